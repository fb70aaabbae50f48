import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';
import { errorOf, hello, json, postChat, readTimedEvents, type TimedEvent } from './http';

/**
 * POST /api/chat/completions over real HTTP: the built app in the local host, Azure OpenAI played by the
 * emulator, the app's real managed identity credential and AzureOpenAI client in between.
 */

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    // NOTE: generous caller limits, so no test here depends on how many came before it.
    env: { LIMIT_REQUESTS_PER_MINUTE: '10000', LIMIT_TOKENS_PER_MINUTE: '10000000' },
  });
});

afterAll(async () => {
  await stack.stop();
});

afterEach(async () => {
  await stack.emulator.admin.reset();
});

interface Completion {
  id: string;
  object: string;
  model: string;
  created: number;
  choices: {
    index: number;
    finish_reason: string;
    message: { role: string; content: string };
    content_filter_results: Record<string, unknown>;
  }[];
  prompt_filter_results: { prompt_index: number; content_filter_results: Record<string, unknown> }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

interface Chunk {
  id: string;
  object: string;
  model: string;
  choices: {
    index: number;
    delta: { role?: string; content?: string };
    finish_reason: string | null;
    content_filter_results?: Record<string, unknown>;
  }[];
  prompt_filter_results?: { prompt_index: number; content_filter_results: Record<string, unknown> }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const safeCategories = {
  hate: { filtered: false, severity: 'safe' },
  self_harm: { filtered: false, severity: 'safe' },
  sexual: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};

const words = (text: string): string[] => text.split(' ').filter((word) => word.length > 0);

async function complete(body: Record<string, unknown>): Promise<Completion> {
  const response = await postChat(stack, body);
  expect(response.status).toBe(200);
  return json<Completion>(response);
}

/** The parsed JSON chunks of a stream, which must end with `data: [DONE]` and nothing after it. */
function chunksOf(events: TimedEvent[]): Chunk[] {
  expect(events.at(-1)?.data).toBe('[DONE]');
  return events.slice(0, -1).map((event) => JSON.parse(event.data) as Chunk);
}

const isContent = (chunk: Chunk): boolean => (chunk.choices[0]?.delta.content ?? '') !== '';

describe('chat completions, not streamed', () => {
  it('answers a chat.completion in Azure’s shape, with filter results, usage and a request id', async () => {
    const response = await postChat(stack, hello({ max_tokens: 4 }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('x-request-id')).toMatch(uuid);
    expect(response.headers.get('access-control-expose-headers')).toContain('x-request-id');
    const body = await json<Completion>(response);
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [
        {
          index: 0,
          finish_reason: 'length',
          message: { role: 'assistant' },
          content_filter_results: safeCategories,
        },
      ],
      prompt_filter_results: [
        { prompt_index: 0, content_filter_results: { ...safeCategories, jailbreak: { filtered: false } } },
      ],
      usage: { completion_tokens: 4 },
    });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.choices).toHaveLength(1);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect((await stack.emulator.admin.stats()).chatCalls).toBe(1);
  });

  it('gives every response its own request id', async () => {
    const [first, second] = await Promise.all([postChat(stack, hello()), postChat(stack, hello())]);
    const ids = [first.headers.get('x-request-id'), second.headers.get('x-request-id')];
    await Promise.all([first.arrayBuffer(), second.arrayBuffer()]);
    expect(ids[0]).toMatch(uuid);
    expect(ids[1]).toMatch(uuid);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('lets max_tokens and max_completion_tokens set the completion length', async () => {
    for (const tokens of [1, 5, 9]) {
      const body = await complete(hello({ max_tokens: tokens }));
      expect(body.usage.completion_tokens).toBe(tokens);
      expect(words(body.choices[0]?.message.content ?? '')).toHaveLength(tokens);
      expect(body.choices[0]?.finish_reason).toBe('length');
    }
    const byCompletionTokens = await complete({
      messages: [{ role: 'user', content: 'Hello there' }],
      max_completion_tokens: 7,
    });
    expect(byCompletionTokens.usage.completion_tokens).toBe(7);
  });

  it('lets a short answer stop on its own when the caller sets no max_tokens (the cap is LIMIT_MAX_TOKENS)', async () => {
    const body = await complete({ messages: [{ role: 'user', content: 'Hello there' }] });
    expect(body.choices[0]?.finish_reason).toBe('stop');
    expect(body.choices[0]?.message.content).toBe(
      'You said: "Hello there". This is gpt-4o-mini on the local emulator.',
    );
    expect(body.usage.completion_tokens).toBe(11);
  });

  it('uses the deployment named by model when it is allowed', async () => {
    const gpt4o = await complete(hello({ model: 'gpt-4o' }));
    expect(gpt4o.model).toBe('gpt-4o-2024-11-20');
    const nano = await complete(hello({ model: 'gpt-4.1-nano' }));
    expect(nano.model).toBe('gpt-4.1-nano-2025-04-14');
    const byDefault = await complete(hello());
    expect(byDefault.model).toBe('gpt-4o-mini-2024-07-18');
  });

  it('answers 404 model_not_found for a deployment it does not allow, without calling Azure', async () => {
    // NOTE: text-embedding-3-small is a real deployment of the account, just not an allowed chat one.
    for (const model of ['text-embedding-3-small', 'gpt-5-imaginary']) {
      const response = await postChat(stack, hello({ model }));
      expect(response.status).toBe(404);
      expect(response.headers.get('x-request-id')).toMatch(uuid);
      expect(await errorOf(response)).toEqual({
        message: expect.stringContaining(model) as unknown,
        type: 'not_found_error',
        code: 'model_not_found',
        param: 'model',
      });
    }
    expect((await stack.emulator.admin.stats()).chatCalls).toBe(0);
  });
});

describe('chat completions, streamed', () => {
  it('relays Azure’s SSE sequence: prelude, role, content, finish, usage, [DONE]', async () => {
    const response = await postChat(
      stack,
      hello({ max_tokens: 5, stream: true, stream_options: { include_usage: true } }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-request-id')).toMatch(uuid);
    const chunks = chunksOf(await readTimedEvents(response));
    expect(chunks).toHaveLength(1 + 1 + 5 + 1 + 1);
    const [prelude, role, ...rest] = chunks;
    const content = rest.slice(0, 5);
    const [finish, usage] = rest.slice(5);

    expect(prelude).toMatchObject({ choices: [], id: '', object: '' });
    expect(prelude?.prompt_filter_results).toEqual([
      { prompt_index: 0, content_filter_results: expect.objectContaining(safeCategories) as unknown },
    ]);
    expect(role).toMatchObject({
      object: 'chat.completion.chunk',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    });
    for (const chunk of content) {
      expect(chunk).toMatchObject({
        object: 'chat.completion.chunk',
        choices: [{ index: 0, finish_reason: null, content_filter_results: safeCategories }],
      });
      expect(isContent(chunk)).toBe(true);
    }
    expect(finish).toMatchObject({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }] });
    expect(usage).toMatchObject({ choices: [], usage: { completion_tokens: 5 } });
    expect(new Set(chunks.slice(1).map((chunk) => chunk.id)).size).toBe(1);

    const streamed = content.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    const whole = await complete(hello({ max_tokens: 5 }));
    expect(streamed).toBe(whole.choices[0]?.message.content);
  });

  it('sends no usage chunk unless stream_options.include_usage asks for it', async () => {
    const response = await postChat(stack, hello({ max_tokens: 3, stream: true }));
    expect(response.status).toBe(200);
    const chunks = chunksOf(await readTimedEvents(response));
    expect(chunks.filter(isContent)).toHaveLength(3);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
    expect(chunks.some((chunk) => chunk.usage)).toBe(false);
  });

  it('streams from the deployment named by model', async () => {
    const response = await postChat(stack, hello({ model: 'gpt-4o', max_tokens: 2, stream: true }));
    const chunks = chunksOf(await readTimedEvents(response));
    expect(chunks.filter(isContent).map((chunk) => chunk.model)).toEqual([
      'gpt-4o-2024-11-20',
      'gpt-4o-2024-11-20',
    ]);
  });

  it('passes each chunk on as Azure sends it instead of buffering the stream', async () => {
    const tokens = 8;
    const perTokenMs = 100;
    await stack.emulator.admin.setFault({ kind: 'latency', firstTokenMs: 150, perTokenMs });
    const response = await postChat(stack, hello({ max_tokens: tokens, stream: true }));
    const headersAt = performance.now();
    expect(response.status).toBe(200);
    const events = await readTimedEvents(response);
    const chunks = chunksOf(events);
    const arrivals = events.slice(0, -1).filter((_, index) => chunks[index] && isContent(chunks[index]));
    expect(arrivals).toHaveLength(tokens);

    const times = arrivals.map((event) => event.at);
    const first = times[0] ?? 0;
    const last = times.at(-1) ?? 0;
    // NOTE: the emulator waits perTokenMs between content chunks: 7 gaps of 100 ms. Buffering would collapse them.
    expect(last - first).toBeGreaterThanOrEqual((tokens - 1) * perTokenMs * 0.5);
    const spacedApart = times
      .slice(1)
      .filter((time, index) => time - (times[index] ?? time) >= perTokenMs / 2);
    expect(spacedApart.length).toBeGreaterThanOrEqual(tokens / 2);
    // The response started (headers, then the first token) long before the upstream had finished.
    expect(last - headersAt).toBeGreaterThanOrEqual((tokens - 1) * perTokenMs * 0.5);
  });
});
