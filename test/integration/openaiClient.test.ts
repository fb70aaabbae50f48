import OpenAI, {
  APIError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  RateLimitError,
} from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';

/**
 * The official openai npm client as the gateway's caller, the way a browser or server frontend uses it:
 * `baseURL` is the gateway's API base and the "API key" is the caller's Entra token.
 */

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  // NOTE: no retries in the app, so an injected upstream failure reaches the client at once.
  stack = await startStack({ env: { UPSTREAM_MAX_RETRIES: '0' } });
  client = new OpenAI({
    baseURL: stack.apiBaseUrl,
    apiKey: stack.callerToken,
    maxRetries: 0,
    timeout: 10_000,
  });
});

afterAll(async () => {
  await stack.stop();
});

afterEach(async () => {
  await stack.emulator.admin.reset();
});

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const messages = [{ role: 'user' as const, content: 'Write a short poem' }];

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const contentOf = (chunks: ChatCompletionChunk[]): string =>
  chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');

describe('chat.completions.create', () => {
  it('returns a typed chat completion with usage and the gateway’s request id', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      max_completion_tokens: 6,
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('gpt-4o-mini-2024-07-18');
    expect(completion.choices[0]?.message.role).toBe('assistant');
    expect(completion.choices[0]?.message.content?.trim().split(' ')).toHaveLength(6);
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.usage?.completion_tokens).toBe(6);
    expect(completion._request_id).toMatch(uuid);
  });

  it('streams chunks that join into the same answer, ending with a usage chunk', async () => {
    const whole = await client.chat.completions.create({
      model: 'gpt-4o',
      messages,
      max_completion_tokens: 7,
    });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages,
      max_completion_tokens: 7,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    expect(contentOf(chunks)).toBe(whole.choices[0]?.message.content);
    expect(chunks.filter((chunk) => (chunk.choices[0]?.delta.content ?? '') !== '')).toHaveLength(7);
    expect(chunks.some((chunk) => chunk.choices[0]?.finish_reason === 'length')).toBe(true);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(7);
  });

  it('serves the stream helper, which assembles the final completion from the chunks', async () => {
    const runner = client.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages,
      max_completion_tokens: 5,
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]?.message.content?.trim().split(' ')).toHaveLength(5);
    expect(final.choices[0]?.finish_reason).toBe('length');
  });

  it('throws NotFoundError with code model_not_found for a deployment the gateway does not allow', async () => {
    const call = client.chat.completions.create({ model: 'text-embedding-3-small', messages });
    await expect(call).rejects.toBeInstanceOf(NotFoundError);
    await expect(call).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
      param: 'model',
      type: 'not_found_error',
      requestID: expect.stringMatching(uuid) as unknown,
    });
  });

  it('throws BadRequestError naming the parameter for a request the gateway rejects', async () => {
    const call = client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] });
    await expect(call).rejects.toBeInstanceOf(BadRequestError);
    await expect(call).rejects.toMatchObject({ status: 400, param: 'messages' });
  });

  it('throws AuthenticationError when the API key is not a valid caller token', async () => {
    const stranger = new OpenAI({ baseURL: stack.apiBaseUrl, apiKey: 'not-a-token', maxRetries: 0 });
    const call = stranger.chat.completions.create({ model: 'gpt-4o-mini', messages });
    await expect(call).rejects.toBeInstanceOf(AuthenticationError);
    await expect(call).rejects.toMatchObject({ status: 401 });
  });

  it('throws RateLimitError carrying Retry-After when Azure rate limits the deployment', async () => {
    await stack.emulator.admin.setFault({
      kind: 'status',
      target: 'openai',
      status: 429,
      count: 1,
      retryAfterSeconds: 7,
    });
    const call = client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_completion_tokens: 3 });
    await expect(call).rejects.toBeInstanceOf(RateLimitError);
    await expect(call).rejects.toMatchObject({ status: 429, code: 'rate_limited' });
    await expect(call).rejects.toSatisfy(
      (error: unknown) => error instanceof RateLimitError && error.headers.get('retry-after') === '7',
    );
  });

  it('throws an APIError from the iteration when Azure cuts the stream midway', async () => {
    await stack.emulator.admin.setFault({ kind: 'reset', afterChunks: 4 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      max_completion_tokens: 10,
      stream: true,
    });
    const reading = collect(stream);
    await expect(reading).rejects.toBeInstanceOf(APIError);
    await expect(reading).rejects.toMatchObject({ code: 'upstream_error', type: 'upstream_error' });
  });
});

describe('models', () => {
  it('lists the allowed deployments through models.list()', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      expect(model.object).toBe('model');
      expect(model.owned_by).toBe('azure-openai');
      ids.push(model.id);
    }
    expect(ids).toEqual(['gpt-4.1-nano', 'gpt-4o', 'gpt-4o-mini', 'o4-mini']);
  });

  it('retrieves one deployment, and throws NotFoundError for one it does not offer', async () => {
    const model = await client.models.retrieve('gpt-4o');
    expect(model).toMatchObject({ id: 'gpt-4o', object: 'model', owned_by: 'azure-openai' });
    const missing = client.models.retrieve('text-embedding-3-small');
    await expect(missing).rejects.toBeInstanceOf(NotFoundError);
    await expect(missing).rejects.toMatchObject({ code: 'model_not_found', param: 'id' });
  });
});
