import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_PROMPT } from '../../tools/emulator/index';
import { startStack, type Stack } from '../support/stack';
import { errorOf, hello, json, postChat, readTimedEvents } from './http';

/**
 * The data plane on a dated api-version (AzureOpenAI, deployment in the path) against the emulator. Every other
 * integration test runs on the default, the v1 API.
 */

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { AZURE_OPENAI_API_VERSION: '2024-10-21' } });
});

afterAll(async () => {
  await stack.stop();
});

describe('a dated AZURE_OPENAI_API_VERSION', () => {
  it.each([
    ['reasoning_effort', { reasoning_effort: 'low' }, 'API version 2024-10-21'],
    [
      'messages[0].audio',
      { messages: [{ role: 'assistant', content: 'x', audio: { id: 'audio_1' } }] },
      'v1',
    ],
  ])('refuses %s, which the dated surface lacks, with a 400 that says why', async (param, extra, why) => {
    const before = (await stack.emulator.admin.stats()).chatCalls;
    const response = await postChat(stack, { ...hello(), ...extra });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({
      param,
      message: expect.stringContaining(why) as unknown,
    });
    expect((await stack.emulator.admin.stats()).chatCalls).toBe(before);
  });

  it('completes a chat through the dated path', async () => {
    const response = await postChat(stack, hello());
    expect(response.status).toBe(200);
    const body = await json<{ choices: { message: { content: string } }[] }>(response);
    expect(body.choices[0]?.message.content.split(' ')).toHaveLength(4);
  });

  it('streams a chat through the dated path', async () => {
    const response = await postChat(stack, hello({ stream: true }));
    expect(response.status).toBe(200);
    const events = await readTimedEvents(response);
    expect(events.at(-1)?.data).toBe('[DONE]');
  });

  it('maps the dated content-filter body (innererror.content_filter_result)', async () => {
    const response = await postChat(stack, hello({ messages: [{ role: 'user', content: BLOCK_PROMPT }] }));
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe('content_filter');
    expect(error.content_filter_result).toMatchObject({ hate: { filtered: true } });
  });

  it('leaves /api/responses to the v1 API: the dated GA surface has no Responses route', async () => {
    const response = await fetch(`${stack.apiBaseUrl}/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.callerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'Hello' }),
    });
    expect(response.status).toBe(502);
    expect((await errorOf(response)).code).toBe('upstream_not_found');
  });
});
