import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamRequestRecord } from '../../tools/emulator/index';
import { startStack, type Stack } from '../support/stack';
import { hello } from './http';

/**
 * A caller who goes away, through the local host and the real (patched) Functions library:
 * the emulator's record of upstream requests says when Azure OpenAI saw the gateway hang up.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function streamChat(stack: Stack, body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.apiBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.callerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** Waits until the emulator has `count` upstream requests that are no longer open. */
async function endedRecords(stack: Stack, count: number, timeoutMs = 5000): Promise<UpstreamRequestRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = await stack.emulator.admin.requests();
    const ended = records.filter((record) => record.outcome !== 'open');
    if (ended.length >= count || Date.now() > deadline) return records;
    await sleep(25);
  }
}

describe('a caller who aborts streams', () => {
  const STREAMS = 20;
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack.stop();
  });

  it(`ends the upstream request within a second for each of ${STREAMS} streams aborted after their first chunk, and frees the stream slot`, async () => {
    // NOTE: 40 ms a token makes each stream last 8 s upstream, far longer than the test waits for it.
    await stack.emulator.admin.setFault({ kind: 'latency', perTokenMs: 40 });
    const abortedAt: number[] = [];
    for (let index = 0; index < STREAMS; index++) {
      const abort = new AbortController();
      const response = await streamChat(stack, hello({ max_tokens: 200, stream: true }), abort.signal);
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      expect((await reader.read()).done).toBe(false);
      abortedAt.push(Date.now());
      abort.abort();
    }

    // NOTE: straight after the last abort; the caller may hold only 4 streams at once (LIMIT_CONCURRENT_STREAMS).
    const next = await streamChat(stack, hello({ max_tokens: 2, stream: true }));
    expect(next.status).toBe(200);
    expect(await next.text()).toContain('data: [DONE]');

    const records = await endedRecords(stack, STREAMS + 1);
    const aborted = records.slice(0, STREAMS);
    expect(aborted.map((record) => record.outcome)).toEqual(
      Array.from({ length: STREAMS }, () => 'cancelled'),
    );
    const delays = aborted.map((record, index) => (record.endedAt ?? Infinity) - (abortedAt[index] ?? 0));
    expect(Math.max(...delays)).toBeLessThan(1000);
    expect(records[STREAMS]?.outcome).toBe('completed');
    expect(stack.logs()).not.toMatch(/"status":500|internal_error/);
  });
});
