import { describe, expect, it } from 'vitest';
import { createCallerLimiter, estimatePromptTokens } from '../../src/lib/caller/callerLimits';
import type { ApiError } from '../../src/lib/errors';
import { thrown } from '../support/thrown';

const limits = { requestsPerMinute: 2, tokensPerMinute: 1000, maxTokens: 500, concurrentStreams: 1 };

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('per-caller limits', () => {
  it('refuses the request past the per-minute count with a Retry-After', () => {
    const time = clock();
    const limiter = createCallerLimiter(limits, time.now);
    limiter.charge('a', 1);
    limiter.charge('a', 1);
    const error = thrown(() => {
      limiter.charge('a', 1);
    }) as ApiError;
    expect(error.status).toBe(429);
    expect(Number(error.headers['retry-after'])).toBeGreaterThanOrEqual(30);
    limiter.charge('b', 1);
    time.advance(30_000);
    expect(() => {
      limiter.charge('a', 1);
    }).not.toThrow();
  });

  it('charges tokens up front and refills them over a minute', () => {
    const time = clock();
    const limiter = createCallerLimiter({ ...limits, requestsPerMinute: 0 }, time.now);
    limiter.charge('a', 800);
    expect(() => {
      limiter.charge('a', 300);
    }).toThrow(/tokens per minute/);
    time.advance(6_000);
    expect(() => {
      limiter.charge('a', 300);
    }).not.toThrow();
  });

  it('rejects a single request that could never fit the token limit with a 400', () => {
    const limiter = createCallerLimiter(limits);
    expect(
      thrown(() => {
        limiter.charge('a', 5000);
      }),
    ).toMatchObject({ status: 400, code: 'tokens_exceed_limit' });
  });

  it('caps concurrent streams per caller and releases a slot once', () => {
    const limiter = createCallerLimiter(limits);
    const release = limiter.openStream('a');
    expect(() => limiter.openStream('a')).toThrow(/open streams/);
    release();
    release();
    const again = limiter.openStream('a');
    expect(() => limiter.openStream('a')).toThrow(/open streams/);
    again();
  });

  it('forgets idle callers so memory stays bounded', () => {
    const time = clock();
    const limiter = createCallerLimiter(limits, time.now);
    for (let i = 0; i < 500; i++) limiter.charge(`caller-${i}`, 1);
    expect(limiter.size()).toBe(500);
    time.advance(120_000);
    limiter.charge('late', 1);
    expect(limiter.size()).toBe(1);
  });

  it('estimates prompt tokens at about four characters each', () => {
    expect(estimatePromptTokens([{ content: 'x'.repeat(400) }])).toBeGreaterThanOrEqual(100);
    expect(estimatePromptTokens([{ content: 'x'.repeat(400) }])).toBeLessThan(120);
  });
});
