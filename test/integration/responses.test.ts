import OpenAI from 'openai';
import { zodTextFormat } from 'openai/helpers/zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { BLOCK_PROMPT } from '../../tools/emulator/index';
import { startStack, type Stack } from '../support/stack';
import { weatherTool } from '../support/weatherTool';
import { errorOf } from './http';

/**
 * POST /api/responses over real HTTP with openai-node as the caller: the built app in the local host, Azure
 * OpenAI's v1 Responses API played by the emulator.
 */

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack({
    env: {
      LIMIT_REQUESTS_PER_MINUTE: '10000',
      LIMIT_TOKENS_PER_MINUTE: '10000000',
      LIMIT_MAX_TOKENS: '2048',
    },
  });
  client = new OpenAI({ baseURL: stack.apiBaseUrl, apiKey: stack.callerToken, maxRetries: 0 });
});

afterAll(async () => {
  await stack.stop();
});

afterEach(async () => {
  await stack.emulator.admin.reset();
});

const postResponses = (body: unknown, token: string = stack.callerToken): Promise<Response> =>
  fetch(`${stack.apiBaseUrl}/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const weather = {
  type: 'function' as const,
  name: weatherTool.name,
  description: weatherTool.description,
  strict: true,
  parameters: weatherTool.parameters,
};

describe('POST /api/responses with openai-node', () => {
  it('creates a response statelessly, capping max_output_tokens at LIMIT_MAX_TOKENS when absent', async () => {
    const { data, response } = await client.responses
      .create({ model: stack.emulator.deployment, input: 'Say hello' })
      .withResponse();
    expect(data.status).toBe('completed');
    expect(data.output_text).toBe('You said: "Say hello". This is gpt-4o-mini on the local emulator.');
    expect(data.max_output_tokens).toBe(2048);
    expect((data as unknown as { store: boolean }).store).toBe(false);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a smaller max_output_tokens and lowers a larger one to the cap', async () => {
    const small = await client.responses.create({ input: 'x', max_output_tokens: 100 });
    const large = await client.responses.create({ input: 'x', max_output_tokens: 1_000_000 });
    expect(small.max_output_tokens).toBe(100);
    expect(large.max_output_tokens).toBe(2048);
  });

  it('relays a stream event by event and ends with response.completed', async () => {
    const stream = client.responses.stream({ model: stack.emulator.deployment, input: 'Stream please' });
    const types: string[] = [];
    const deltas: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') deltas.push(event.delta);
    }
    const final = await stream.finalResponse();
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.join('')).toBe(final.output_text);
    expect(final.output_text).toBe('You said: "Stream please". This is gpt-4o-mini on the local emulator.');
  });

  it('parses structured output with zodTextFormat, the values taken from the prompt', async () => {
    const City = z.object({ name: z.string(), population: z.number().int(), capital: z.boolean() });
    const response = await client.responses.parse({
      input: 'Describe Lisbon, population 545000',
      text: { format: zodTextFormat(City, 'city') },
    });
    expect(response.output_parsed).toEqual({ name: 'Lisbon', population: 545000, capital: true });
  });

  it('completes a function-tool round trip with the history sent back in input', async () => {
    const first = await client.responses.create({ input: 'Weather in Paris?', tools: [weather] });
    const call = first.output.find((item) => item.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('expected a function call');
    expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris' });

    const second = await client.responses.create({
      tools: [weather],
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: '{"temperature":21}' },
      ],
    });
    expect(second.output[0]?.type).toBe('message');
    expect(second.output_text).toBe('The get_weather tool returned: {"temperature":21}');
  });

  it('ends a broken stream with an error event that openai-node raises', async () => {
    await stack.emulator.admin.setFault({ kind: 'reset', afterChunks: 4 });
    const stream = client.responses.stream({ input: 'Stream please' });
    await expect(
      (async () => {
        for await (const event of stream) expect(event.type).not.toBe('response.completed');
      })(),
    ).rejects.toThrow(/stream ended unexpectedly/);
  });

  it('sends the terminal error event in the Responses shape', async () => {
    await stack.emulator.admin.setFault({ kind: 'reset', afterChunks: 4 });
    const text = await (await postResponses({ input: 'x', stream: true })).text();
    const last = text.trim().split('\n\n').at(-1) ?? '';
    expect(last).toMatch(/^event: error\ndata: /);
    const data = JSON.parse(last.replace(/^event: error\ndata: /, '')) as Record<string, unknown>;
    expect(data).toMatchObject({ type: 'error', code: 'upstream_error' });
    expect(typeof data.sequence_number).toBe('number');
    expect(data.error).toMatchObject({ code: 'upstream_error', type: 'upstream_error' });
  });
});

describe('POST /api/responses refuses what would need stored state or the app’s identity', () => {
  it.each([
    ['store', { store: true }],
    ['previous_response_id', { previous_response_id: 'resp_123' }],
    ['conversation', { conversation: 'conv_123' }],
    ['background', { background: true }],
  ])('refuses %s with the reason and how to send the history', async (param, extra) => {
    const response = await postResponses({ input: 'x', ...extra });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error).toMatchObject({ code: 'parameter_not_accepted', param });
    expect(error.message).toContain('stateless');
    expect(error.message).toContain('reasoning.encrypted_content');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('accepts store: false and background: false', async () => {
    expect((await postResponses({ input: 'x', store: false, background: false })).status).toBe(200);
  });

  it('refuses an item_reference, naming the client option that avoids it', async () => {
    const response = await postResponses({ input: [{ type: 'item_reference', id: 'msg_1' }] });
    const error = await errorOf(response);
    expect(response.status).toBe(400);
    expect(error).toMatchObject({ code: 'parameter_not_accepted', param: 'input[0]' });
    expect(error.message).toContain('store = false');
  });

  it.each(['file_search', 'code_interpreter', 'mcp', 'web_search'])(
    'refuses the hosted %s tool',
    async (type) => {
      const response = await postResponses({ input: 'x', tools: [weather, { type }] });
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toMatchObject({ code: 'tool_not_allowed', param: 'tools[1].type' });
    },
  );

  it('refuses an unknown parameter and an over-long input like chat', async () => {
    const unknown = await postResponses({ input: 'x', surprise: true });
    expect(unknown.status).toBe(400);
    expect(await errorOf(unknown)).toMatchObject({ code: 'invalid_request', param: 'surprise' });
    const tooSmall = await postResponses({ input: 'x', max_output_tokens: 4 });
    expect(await errorOf(tooSmall)).toMatchObject({ code: 'invalid_request', param: 'max_output_tokens' });
  });

  it('needs a caller token and keeps the allow-list', async () => {
    const anonymous = await postResponses({ input: 'x' }, 'not-a-token');
    expect(anonymous.status).toBe(401);
    const other = await postResponses({ input: 'x', model: 'not-deployed' });
    expect(other.status).toBe(404);
    expect((await errorOf(other)).code).toBe('model_not_found');
  });

  it('passes the content filter’s categories on with param input', async () => {
    const response = await postResponses({ input: BLOCK_PROMPT });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({
      code: 'content_filter',
      param: 'input',
      content_filter_result: { hate: { filtered: true } },
    });
  });
});

describe('every other route under /api answers in the error shape', () => {
  it('answers an unknown path with 404 route_not_found naming the routes', async () => {
    const response = await fetch(`${stack.apiBaseUrl}/nope`);
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const error = await errorOf(response);
    expect(error.code).toBe('route_not_found');
    expect(error.message).toContain('POST /api/chat/completions');
    expect(error.message).toContain('POST /api/responses');
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const response = await fetch(`${stack.apiBaseUrl}/chat/completions`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await errorOf(response)).code).toBe('method_not_allowed');
    const models = await fetch(`${stack.apiBaseUrl}/models/gpt-4o`, { method: 'DELETE' });
    expect(models.status).toBe(405);
    expect(models.headers.get('allow')).toBe('GET');
  });

  it('answers the retrieval routes of stored responses with 404 response_not_stored', async () => {
    for (const [method, path] of [
      ['GET', '/responses/resp_123'],
      ['DELETE', '/responses/resp_123'],
      ['GET', '/responses/resp_123/input_items'],
      ['POST', '/responses/resp_123/cancel'],
    ] as const) {
      const response = await fetch(`${stack.apiBaseUrl}${path}`, { method });
      expect(response.status).toBe(404);
      const error = await errorOf(response);
      expect(error.code).toBe('response_not_stored');
      expect(error.message).toContain('stateless');
    }
  });

  it('still serves the real routes: the catch-all sorts last', async () => {
    const health = await fetch(`${stack.apiBaseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});
