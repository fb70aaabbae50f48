import { getBearerTokenProvider, ManagedIdentityCredential } from '@azure/identity';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_COMPLETION, BLOCK_PROMPT, startEmulator, type Emulator } from '../../tools/emulator/index';
import { postChat, readEvents, serviceToken } from './emulator-requests';

let emulator: Emulator;
let client: OpenAI;
let token: string;
const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

const responsesUrl = (query = ''): string => `${emulator.urls.openai}/openai/v1/responses${query}`;

beforeAll(async () => {
  emulator = await startEmulator();
  process.env.IDENTITY_ENDPOINT = emulator.urls.identity;
  process.env.IDENTITY_HEADER = emulator.identityHeader;
  client = new OpenAI({
    baseURL: `${emulator.urls.openai}/openai/v1/`,
    apiKey: getBearerTokenProvider(
      new ManagedIdentityCredential({ retryOptions: { maxRetries: 0 } }),
      'https://cognitiveservices.azure.com/.default',
    ),
    maxRetries: 0,
  });
  token = await serviceToken(emulator);
});

afterEach(async () => {
  await emulator.admin.reset();
});

afterAll(async () => {
  if (saved.endpoint === undefined) delete process.env.IDENTITY_ENDPOINT;
  else process.env.IDENTITY_ENDPOINT = saved.endpoint;
  if (saved.header === undefined) delete process.env.IDENTITY_HEADER;
  else process.env.IDENTITY_HEADER = saved.header;
  await emulator.close();
});

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather in a city',
  strict: true,
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
    required: ['city', 'unit'],
    additionalProperties: false,
  },
};

describe('Responses on the v1 surface through the OpenAI client', () => {
  it('answers a text response with the deployment’s model, usage and Azure’s headers', async () => {
    const { data, response } = await client.responses
      .create({ model: emulator.deployment, input: 'Say hello', store: false })
      .withResponse();
    expect(data.object).toBe('response');
    expect(data.status).toBe('completed');
    expect(data.model).toBe('gpt-4o-mini-2024-07-18');
    expect((data as unknown as { store: boolean }).store).toBe(false);
    expect(data.output_text).toBe('You said: "Say hello". This is gpt-4o-mini on the local emulator.');
    expect(data.usage?.output_tokens).toBe(data.output_text.split(' ').length);
    expect(data.usage?.input_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-ms-deployment-name')).toBe(emulator.deployment);
    expect(response.headers.get('apim-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('echoes max_output_tokens in the response object', async () => {
    const data = await client.responses.create({
      model: emulator.deployment,
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Tell a story' }] }],
      max_output_tokens: 16,
    });
    expect(data.max_output_tokens).toBe(16);
    expect(data.status).toBe('completed');
  });

  it('cuts an answer longer than max_output_tokens with status incomplete, counting what it produced', async () => {
    const input = 'one two three four five six seven eight nine ten eleven twelve';
    const data = await client.responses.create({ model: emulator.deployment, input, max_output_tokens: 16 });
    expect(data.status).toBe('incomplete');
    expect(data.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(data.output_text).toBe(
      'You said: "one two three four five six seven eight nine ten eleven twelve". This is',
    );
    expect(data.usage?.output_tokens).toBe(16);
  });

  it('answers text.format json_schema with JSON valid against the schema, made from the prompt', async () => {
    const data = await client.responses.create({
      model: emulator.deployment,
      input: 'Describe Lisbon, population 545000',
      text: {
        format: {
          type: 'json_schema',
          name: 'city',
          strict: true,
          schema: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              population: { type: 'integer', minimum: 0 },
              capital: { type: 'boolean' },
            },
            required: ['name', 'population', 'capital'],
            additionalProperties: false,
          },
        },
      },
    });
    expect(JSON.parse(data.output_text)).toEqual({ name: 'Lisbon', population: 545000, capital: true });
    expect(data.usage?.output_tokens).toBe(Math.ceil(data.output_text.length / 4));
  });

  it('answers text.format json_object with the echo as a JSON object', async () => {
    const data = await client.responses.create({
      model: emulator.deployment,
      input: 'Reply in JSON',
      text: { format: { type: 'json_object' } },
    });
    expect(JSON.parse(data.output_text)).toEqual({
      reply: 'You said: "Reply in JSON". This is gpt-4o-mini on the local emulator.',
    });
  });

  it('streams Azure’s event sequence with growing sequence numbers and no [DONE]', async () => {
    const stream = client.responses.stream({ model: emulator.deployment, input: 'Stream please' });
    const types: string[] = [];
    const sequence: number[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    const final = await stream.finalResponse();
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.filter((type) => type === 'response.output_text.delta')).toHaveLength(
      text.split(' ').length,
    );
    expect(text).toBe('You said: "Stream please". This is gpt-4o-mini on the local emulator.');
    expect(types.slice(-4)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(sequence).toEqual(sequence.map((_, index) => index));
    expect(final.output_text).toBe(text);
  });

  it('sends each event with an event: line and its data', async () => {
    const started = performance.now();
    const response = await postChat(
      responsesUrl(),
      { model: emulator.deployment, input: 'hi', stream: true },
      { token },
    );
    const events = await readEvents(response, started);
    expect(events[0]?.data).toMatch(
      /^event: response\.created\ndata: \{"type":"response\.created","sequence_number":0,/,
    );
    expect(events.some((event) => event.data.includes('[DONE]'))).toBe(false);
  });

  it('calls an offered function with arguments that match its schema, streaming the argument deltas', async () => {
    const stream = client.responses.stream({
      model: emulator.deployment,
      input: 'Weather in Paris?',
      tools: [weatherTool],
    });
    const deltas: string[] = [];
    const added: string[] = [];
    for await (const event of stream) {
      if (event.type === 'response.function_call_arguments.delta') deltas.push(event.delta);
      if (event.type === 'response.output_item.added') added.push(event.item.type);
    }
    const final = await stream.finalResponse();
    const call = final.output[0];
    expect(added).toEqual(['function_call']);
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', status: 'completed' });
    if (call?.type !== 'function_call') throw new Error('expected a function call');
    expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris', unit: 'celsius' });
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(call.arguments);
    expect(call.call_id).toMatch(/^call_/);
  });

  it('answers a function’s result by quoting it, naming the function its call_id belongs to', async () => {
    const data = await client.responses.create({
      model: emulator.deployment,
      tools: [weatherTool],
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', call_id: 'call_2', name: 'get_time', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '{"temperature":21}' },
      ],
    });
    expect(data.output[0]?.type).toBe('message');
    expect(data.output_text).toBe('The get_weather tool returned: {"temperature":21}');
  });

  it('refuses an unknown parameter in OpenAI’s wording', async () => {
    const response = await postChat(
      responsesUrl(),
      { model: emulator.deployment, input: 'x', bogus: 1 },
      { token },
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        message: "Unknown parameter: 'bogus'.",
        type: 'invalid_request_error',
        param: 'bogus',
        code: 'unknown_parameter',
      },
    });
  });

  it('refuses a text.format json_schema without its name or schema, and an unknown format type', async () => {
    const refusal = async (format: unknown) => {
      const response = await postChat(
        responsesUrl(),
        { model: emulator.deployment, input: 'x', text: { format } },
        { token },
      );
      expect(response.status).toBe(400);
      return ((await response.json()) as { error: { param: string; code: string } }).error;
    };
    const schema = { type: 'object', properties: {} };
    expect(await refusal({ type: 'json_schema', schema })).toMatchObject({
      param: 'text.format.name',
      code: 'missing_required_parameter',
    });
    expect(await refusal({ type: 'json_schema', name: 'answer' })).toMatchObject({
      param: 'text.format.schema',
      code: 'missing_required_parameter',
    });
    expect(await refusal({ type: 'xml' })).toMatchObject({
      param: 'text.format.type',
      code: 'invalid_value',
    });
  });

  it('refuses max_output_tokens below 16', async () => {
    await expect(
      client.responses.create({ model: emulator.deployment, input: 'x', max_output_tokens: 4 }),
    ).rejects.toMatchObject({ status: 400, code: 'integer_below_min_value', param: 'max_output_tokens' });
  });

  it('answers an unknown deployment with DeploymentNotFound', async () => {
    await expect(client.responses.create({ model: 'nope', input: 'x' })).rejects.toMatchObject({
      status: 404,
      code: 'DeploymentNotFound',
    });
  });

  it('blocks a prompt with v1’s inner_error.content_filter_results', async () => {
    const response = await postChat(
      responsesUrl(),
      { model: emulator.deployment, input: BLOCK_PROMPT },
      { token },
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; inner_error: Record<string, unknown> } };
    expect(body.error.code).toBe('content_filter');
    expect(body.error.inner_error).toMatchObject({
      code: 'ResponsibleAIPolicyViolation',
      content_filter_results: { hate: { filtered: true, severity: 'high' } },
    });
  });

  it('cuts a filtered answer short with status incomplete and reason content_filter', async () => {
    const data = await client.responses.create({ model: emulator.deployment, input: BLOCK_COMPLETION });
    expect(data.status).toBe('incomplete');
    expect(data.incomplete_details).toEqual({ reason: 'content_filter' });
    expect(data.output_text).toBe('You said: "[[block-completion]]".');
    expect(data.usage?.output_tokens).toBe(3);
  });
});

describe('the v1 surface shares the dated surface’s gates', () => {
  it('refuses a dated api-version with 400 API version not supported', async () => {
    for (const path of ['responses', 'chat/completions', 'models']) {
      const response = await fetch(`${emulator.urls.openai}/openai/v1/${path}?api-version=2024-10-21`, {
        method: path === 'models' ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: path === 'models' ? null : '{}',
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        error: { code: 'BadRequest', message: 'API version not supported' },
      });
    }
  });

  it('accepts api-version v1 and preview', async () => {
    for (const version of ['v1', 'preview']) {
      const response = await postChat(
        responsesUrl(`?api-version=${version}`),
        { model: emulator.deployment, input: 'x' },
        { token },
      );
      expect(response.status).toBe(200);
    }
  });

  it('refuses a missing token, an api-key and a principal without the role', async () => {
    const body = { model: emulator.deployment, input: 'x' };
    expect((await postChat(responsesUrl(), body, { headers: {} })).status).toBe(401);
    const keyed = await postChat(responsesUrl(), body, { headers: { 'api-key': 'k' } });
    expect(keyed.status).toBe(403);
    await emulator.admin.removeRole(emulator.principals.systemAssigned.objectId);
    const denied = await postChat(responsesUrl(), body, { token });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({
      error: {
        code: 'PermissionDenied',
        message: expect.stringContaining('POST /openai/v1/responses') as unknown,
      },
    });
  });

  it('applies injected status faults and the deployment’s rate limit', async () => {
    await emulator.admin.setFault({ kind: 'status', target: 'openai', status: 503, count: 1 });
    await expect(client.responses.create({ model: emulator.deployment, input: 'x' })).rejects.toMatchObject({
      status: 503,
    });
    await emulator.admin.setRateLimit(emulator.deployment, { requestsPer10Seconds: 1 });
    await client.responses.create({ model: emulator.deployment, input: 'x' });
    const limited = await postChat(responsesUrl(), { model: emulator.deployment, input: 'x' }, { token });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).not.toBeNull();
    expect(JSON.stringify(await limited.json())).toContain('Responses_Create');
  });

  it('breaks a stream where a reset fault says', async () => {
    await emulator.admin.setFault({ kind: 'reset', afterChunks: 3 });
    const started = performance.now();
    const response = await postChat(
      responsesUrl(),
      { model: emulator.deployment, input: 'x', stream: true },
      { token },
    );
    await expect(readEvents(response, started)).rejects.toThrow();
  });

  it('lists the deployed models', async () => {
    const models = await client.models.list();
    const ids = models.data.map((model) => model.id);
    expect(ids).toContain('gpt-4o-mini-2024-07-18');
    expect(models.data[0]).toMatchObject({ object: 'model', status: 'succeeded' });
  });
});
