import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';
import { errorOf, json, readTimedEvents } from './http';

/**
 * Per-caller limits over real HTTP, through the local host to the emulator: the completion cap every request
 * carries, tokens per minute settled by the usage Azure reports, and the model routes' request limit. Each
 * test calls as a caller of its own (a fresh object id), so the limits of one test never reach another.
 */

const TOKENS_PER_MINUTE = 3_000;
const REQUESTS_PER_MINUTE = 40;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    env: {
      LIMIT_TOKENS_PER_MINUTE: String(TOKENS_PER_MINUTE),
      LIMIT_REQUESTS_PER_MINUTE: String(REQUESTS_PER_MINUTE),
      LIMIT_MAX_TOKENS: '4096',
      LIMIT_EXPECTED_COMPLETION_TOKENS: '256',
    },
  });
});

afterAll(async () => {
  await stack.stop();
});

afterEach(async () => {
  await stack.emulator.admin.reset();
});

/** Azure's deployment quota reserves prompt + cap per request; lift it so only the gateway's limits show. */
const liftAzureQuota = () =>
  stack.emulator.admin.setRateLimit('gpt-4o-mini', { tokensPerMinute: 50_000_000 });

async function newCaller(): Promise<string> {
  return stack.emulator.mintCallerToken({ claims: { oid: randomUUID() } });
}

function chat(token: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${stack.apiBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function get(token: string, path: string): Promise<Response> {
  return fetch(`${stack.apiBaseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

interface Completion {
  choices: { finish_reason: string; message: { content: string } }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const ask = (content: string, extra: Record<string, unknown> = {}) => ({
  messages: [{ role: 'user', content }],
  ...extra,
});

describe('the completion cap', () => {
  it('sends LIMIT_MAX_TOKENS upstream when the caller sets no cap, so a long answer stops there', async () => {
    await liftAzureQuota();
    const token = await newCaller();
    const response = await chat(token, ask('Tell me everything. [[words:5000]]'));
    expect(response.status).toBe(200);
    const body = await json<Completion>(response);
    expect(body.usage.completion_tokens).toBe(4096);
    expect(body.choices[0]?.finish_reason).toBe('length');
  });

  it('lets a short answer stop on its own under the cap', async () => {
    const response = await chat(await newCaller(), ask('Hello there'));
    const body = await json<Completion>(response);
    expect(body.usage.completion_tokens).toBeLessThan(4096);
    expect(body.choices[0]?.finish_reason).toBe('stop');
  });

  it('keeps a smaller cap the caller asked for, in either field', async () => {
    const token = await newCaller();
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      const body = await json<Completion>(await chat(token, ask('Go on. [[words:100]]', { [field]: 9 })));
      expect(body.usage.completion_tokens).toBe(9);
      expect(body.choices[0]?.finish_reason).toBe('length');
    }
  });
});

describe('tokens per minute by real usage', () => {
  it('limits a client that sends no max_tokens by what its short replies really use', async () => {
    await liftAzureQuota();
    const token = await newCaller();
    // NOTE: charged the worst case (prompt + 4096) not one of these would fit a 3000-token minute.
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await chat(token, ask(`Hi ${String(i)}`))).status);
    expect(statuses.every((status) => status === 200)).toBe(true);
  });

  it('charges a reply longer than its estimate afterwards, so the next requests wait for it', async () => {
    await liftAzureQuota();
    const token = await newCaller();
    const long = ask('Write it all out. [[words:1400]]', { max_tokens: 1400 });
    expect((await chat(token, long)).status).toBe(200);
    expect((await chat(token, long)).status).toBe(200);
    const third = await chat(token, long);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await errorOf(third)).toMatchObject({ code: 'caller_rate_limited', type: 'rate_limit_error' });
  });

  it('refuses a prompt that alone is more than a minute of tokens with 400 tokens_exceed_limit', async () => {
    const response = await chat(await newCaller(), ask('x'.repeat(4 * TOKENS_PER_MINUTE)));
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: 'tokens_exceed_limit', param: 'messages' });
  });
});

describe('the usage of a stream', () => {
  const usageEvents = (events: { data: string }[]) =>
    events
      .filter((event) => event.data !== '[DONE]' && 'usage' in (JSON.parse(event.data) as object))
      .map((event) => JSON.parse(event.data) as { choices: unknown[]; usage: unknown });

  it('is asked of Azure always but passed on only when the caller asked for it', async () => {
    const token = await newCaller();
    const without = await readTimedEvents(await chat(token, ask('Stream it', { stream: true })));
    expect(without.at(-1)?.data).toBe('[DONE]');
    expect(usageEvents(without).filter((event) => event.usage !== null)).toEqual([]);

    const asked = await readTimedEvents(
      await chat(token, ask('Stream it', { stream: true, stream_options: { include_usage: true } })),
    );
    const reported = usageEvents(asked).filter((event) => event.usage !== null);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ choices: [] });
  });

  it('is what the stream is charged, as the request log line shows', async () => {
    const token = await newCaller();
    await readTimedEvents(await chat(token, ask('Count me [[words:40]]', { stream: true })));
    const streamedLine = () =>
      summaries().find((line) => line.streamed === true && line.completionTokens === 40);
    await expect.poll(streamedLine).toBeDefined();
    const line = streamedLine();
    expect(line?.chargedTokens).toBe((line?.promptTokens ?? 0) + 40);
  });
});

interface SummaryLine {
  streamed?: boolean;
  promptTokens?: number;
  completionTokens?: number;
  chargedTokens?: number;
}

/** The request summary lines the app has logged so far. */
function summaries(): SummaryLine[] {
  return [...stack.logs().matchAll(/request (\{[^\n]*?\})(?:\s|$)/g)].flatMap((match) => {
    try {
      return [JSON.parse(match[1] ?? '') as SummaryLine];
    } catch {
      return [];
    }
  });
}

describe('the model routes', () => {
  it('count against the caller’s requests per minute', async () => {
    const token = await newCaller();
    const paths = ['/models', '/models/gpt-4o-mini', '/catalog/models?location=westeurope'];
    const statuses: number[] = [];
    let over: Response | undefined;
    // NOTE: the minute refills continuously, so a few more than the limit may pass while the loop runs.
    for (let i = 0; i < REQUESTS_PER_MINUTE + 5 && !over; i++) {
      const response = await get(token, paths[i % paths.length] ?? '/models');
      if (response.status === 429) over = response;
      else {
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    }
    expect(statuses.length).toBeGreaterThanOrEqual(REQUESTS_PER_MINUTE);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(over?.headers.get('retry-after')).toBeTruthy();
    expect(over && (await errorOf(over))).toMatchObject({ code: 'caller_rate_limited' });
    expect((await get(await newCaller(), '/models')).status).toBe(200);
  });

  it('answer 400 naming location for a region ARM refuses, asking ARM once in a burst', async () => {
    const token = await newCaller();
    await stack.emulator.admin.resetStats();
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => get(token, '/catalog/models?location=atlantis')),
    );
    for (const response of responses) {
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toMatchObject({
        code: 'invalid_location',
        param: 'location',
        type: 'invalid_request_error',
      });
    }
    const { armCalls } = await stack.emulator.admin.stats();
    expect(armCalls).toBe(1);
  });
});
