import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';
import { hello, postChat } from './http';

/**
 * Azure OpenAI's retry-after against openai-node's retry rules, with a time budget (UPSTREAM_TIMEOUT_MS) long
 * enough for any wait: only the SDK's own ceiling (60 s) decides whether the gateway may retry.
 */

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { UPSTREAM_MAX_RETRIES: '2', UPSTREAM_TIMEOUT_MS: '600000' } });
});

afterAll(async () => {
  await stack.stop();
});

afterEach(async () => {
  await stack.emulator.admin.reset();
});

describe('an upstream that asks the gateway to wait', () => {
  it('gets no early retry when the wait is longer than the SDK honours: the caller gets 429 with Retry-After at once', async () => {
    await stack.emulator.admin.setFault({
      kind: 'status',
      target: 'openai',
      status: 429,
      retryAfterSeconds: 90,
    });
    const started = Date.now();
    const response = await postChat(stack, hello());
    expect(Date.now() - started).toBeLessThan(2000);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('90');
    const records = await stack.emulator.admin.requests();
    expect(records).toHaveLength(1);
  });

  it('is retried after the wait it asked for when the SDK honours it', async () => {
    await stack.emulator.admin.setFault({
      kind: 'status',
      target: 'openai',
      status: 429,
      retryAfterSeconds: 1,
      count: 1,
    });
    const response = await postChat(stack, hello());
    expect(response.status).toBe(200);
    const [refused, retried] = await stack.emulator.admin.requests();
    expect(refused?.status).toBe(429);
    expect(retried?.status).toBe(200);
    expect((retried?.receivedAt ?? 0) - (refused?.endedAt ?? Infinity)).toBeGreaterThanOrEqual(950);
  });
});
