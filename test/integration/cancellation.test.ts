import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamRequestRecord } from '../../tools/emulator/index';
import { startStack, type Stack } from '../support/stack';
import { hello } from './http';

/**
 * A caller who stops reading or goes away, through the local host and the real (patched) Functions library:
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

async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kilobytes === undefined) throw new Error('no VmRSS line');
  return Number(kilobytes) * 1024;
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

describe('a caller who reads slowly', () => {
  const STREAMS = 6;
  const TOKENS = 16_000;
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      env: {
        LIMIT_CONCURRENT_STREAMS: String(STREAMS),
        LIMIT_MAX_TOKENS: String(TOKENS),
        LIMIT_TOKENS_PER_MINUTE: '100000000',
      },
    });
    await stack.emulator.admin.setRateLimit(stack.emulator.deployment, { tokensPerMinute: 100_000_000 });
  });

  afterAll(async () => {
    await stack.stop();
  });

  it('keeps the app from buffering what the caller has not read yet', async () => {
    // NOTE: one whole stream first, so the baseline includes everything a stream allocates once.
    const warm = await streamChat(stack, hello({ max_tokens: TOKENS, stream: true }));
    const streamBytes = (await warm.arrayBuffer()).byteLength;
    expect(streamBytes).toBeGreaterThan(3_000_000);
    const baseline = await residentBytes(stack.hostPid);

    const readers = await Promise.all(
      Array.from({ length: STREAMS }, async () => {
        const response = await streamChat(stack, hello({ max_tokens: TOKENS, stream: true }));
        expect(response.status).toBe(200);
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        await reader.read();
        return reader;
      }),
    );
    await sleep(3000);
    const stalled = await residentBytes(stack.hostPid);

    // NOTE: the emulator sends everything at once; unpatched, the app took in about 20 MB here, patched about 6.
    const upstreamBytes = STREAMS * streamBytes;
    expect(stalled - baseline).toBeLessThan(upstreamBytes / 5);

    const received = await Promise.all(
      readers.map(async (reader) => {
        let bytes = 0;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return bytes;
          bytes += value.byteLength;
        }
      }),
    );
    expect(received.every((bytes) => bytes > streamBytes / 2)).toBe(true);
  });
});
