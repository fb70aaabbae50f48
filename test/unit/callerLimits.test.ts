import { describe, expect, it } from 'vitest';
import { createCallerLimiter } from '../../src/lib/caller/callerLimits';
import { admissionEstimate, estimatePromptTokens, reserveTokens } from '../../src/lib/caller/tokenCharge';
import type { ApiError } from '../../src/lib/errors';

const limits = {
  requestsPerMinute: 2,
  tokensPerMinute: 1000,
  maxTokens: 500,
  concurrentStreams: 1,
  expectedCompletionTokens: 100,
};

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const rejection = async (promise: Promise<unknown>): Promise<ApiError> => {
  try {
    await promise;
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('expected a rejection');
};

describe('per-caller limits', () => {
  it('refuses the request past the per-minute count with a Retry-After', async () => {
    const time = clock();
    const limiter = createCallerLimiter(limits, time.now);
    await limiter.admit('a');
    await limiter.reserve('a', 1);
    const error = await rejection(limiter.admit('a'));
    expect(error.status).toBe(429);
    expect(error.code).toBe('caller_rate_limited');
    expect(Number(error.headers['retry-after'])).toBeGreaterThanOrEqual(30);
    await expect(limiter.admit('b')).resolves.toBeUndefined();
    time.advance(30_000);
    await expect(limiter.admit('a')).resolves.toBeUndefined();
  });

  it('reserves tokens up front and refills them over a minute', async () => {
    const time = clock();
    const limiter = createCallerLimiter({ ...limits, requestsPerMinute: 0 }, time.now);
    await limiter.reserve('a', 800);
    await expect(limiter.reserve('a', 300)).rejects.toThrow(/tokens per minute/);
    time.advance(6_000);
    await expect(limiter.reserve('a', 300)).resolves.toBeDefined();
  });

  it('refunds what a request did not use when it settles, once', async () => {
    const time = clock();
    const limiter = createCallerLimiter({ ...limits, requestsPerMinute: 0 }, time.now);
    const first = await limiter.reserve('a', 900);
    await expect(limiter.reserve('a', 200)).rejects.toThrow(/tokens per minute/);
    first.settle(50);
    first.settle(0);
    await limiter.reserve('a', 900);
    await expect(limiter.reserve('a', 100)).rejects.toThrow(/tokens per minute/);
  });

  it('charges what a request used beyond its reservation and makes the caller wait for it', async () => {
    const time = clock();
    const limiter = createCallerLimiter({ ...limits, requestsPerMinute: 0 }, time.now);
    const reservation = await limiter.reserve('a', 100);
    reservation.settle(1_300);
    const error = await rejection(limiter.reserve('a', 100));
    expect(error.status).toBe(429);
    // NOTE: 1000 - 1300 leaves 300 tokens of debt; with the 100 asked for, 400 refill at 1000 a minute: 24 s.
    expect(Number(error.headers['retry-after'])).toBe(24);
    time.advance(23_000);
    await expect(limiter.reserve('a', 100)).rejects.toThrow(/tokens per minute/);
    time.advance(1_000);
    await expect(limiter.reserve('a', 100)).resolves.toBeDefined();
  });

  it('rejects a single request whose estimate could never fit the token limit with a 400, counting nothing', async () => {
    const limiter = createCallerLimiter(limits);
    await expect(limiter.reserve('a', 5000)).rejects.toMatchObject({
      status: 400,
      code: 'tokens_exceed_limit',
    });
    await limiter.admit('a');
    await limiter.admit('a');
  });

  it('counts nothing for a request it refuses', async () => {
    const time = clock();
    const limiter = createCallerLimiter({ ...limits, requestsPerMinute: 2 }, time.now);
    await limiter.reserve('a', 900);
    await expect(limiter.reserve('a', 900)).rejects.toThrow(/tokens per minute/);
    await expect(limiter.admit('a')).resolves.toBeUndefined();
  });

  it('caps concurrent streams per caller and releases a slot once', async () => {
    const limiter = createCallerLimiter(limits);
    const release = await limiter.openStream('a');
    await expect(limiter.openStream('a')).rejects.toThrow(/open streams/);
    release();
    release();
    const again = await limiter.openStream('a');
    await expect(limiter.openStream('a')).rejects.toThrow(/open streams/);
    again();
    await limiter.close();
  });

  it('forgets idle callers so memory stays bounded', async () => {
    const time = clock();
    const limiter = createCallerLimiter(limits, time.now);
    for (let i = 0; i < 500; i++) await limiter.admit(`caller-${i}`);
    expect(limiter.size()).toBe(500);
    time.advance(120_000);
    await limiter.admit('late');
    expect(limiter.size()).toBe(1);
  });

  it('settles a reservation whose caller was forgotten meanwhile without refunding past the limit', async () => {
    const time = clock();
    const limiter = createCallerLimiter({ ...limits, requestsPerMinute: 0 }, time.now);
    const reservation = await limiter.reserve('a', 900);
    time.advance(120_000);
    await limiter.admit('other');
    reservation.settle(0);
    await limiter.reserve('a', 1000);
    await expect(limiter.reserve('a', 1)).rejects.toThrow(/tokens per minute/);
  });
});

describe('token charges', () => {
  it('reserves the prompt plus the expected completion per choice, never more than the cap', () => {
    const base = { promptTokens: 40, choices: 2, expectedCompletionTokens: 256 };
    expect(admissionEstimate({ ...base, completionCap: 4096 })).toBe(40 + 2 * 256);
    expect(admissionEstimate({ ...base, completionCap: 10 })).toBe(40 + 2 * 10);
  });

  it('settles with reported usage, with the prompt plus counted tokens, or with nothing', async () => {
    const time = clock();
    const limiter = createCallerLimiter({ ...limits, requestsPerMinute: 0 }, time.now);
    const estimate = { promptTokens: 100, completionCap: 500, choices: 1, expectedCompletionTokens: 400 };
    const reported = await reserveTokens(limiter, 'a', estimate);
    expect(reported.reserved).toBe(500);
    reported.settleUsage({ prompt_tokens: 90, completion_tokens: 10, total_tokens: 100 });
    const counted = await reserveTokens(limiter, 'a', estimate);
    counted.settleCounted(300);
    const refunded = await reserveTokens(limiter, 'a', estimate);
    refunded.refund();
    // NOTE: 100 + 400 charged so far leaves 500 of 1000.
    await limiter.reserve('a', 500);
    await expect(limiter.reserve('a', 1)).rejects.toThrow(/tokens per minute/);
  });

  it('estimates prompt tokens at about four characters each, tools included', () => {
    const messages = [{ role: 'user', content: 'x'.repeat(400) }];
    expect(estimatePromptTokens(messages)).toBeGreaterThanOrEqual(100);
    expect(estimatePromptTokens(messages)).toBeLessThan(120);
    const tools = [{ type: 'function', function: { name: 'f', parameters: { d: 'y'.repeat(400) } } }];
    expect(estimatePromptTokens(messages, [tools, undefined])).toBeGreaterThan(
      estimatePromptTokens(messages) + 100,
    );
  });
});
