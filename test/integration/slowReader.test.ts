import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';
import { spawnHost, type SpawnedHost } from '../../tools/host/index';

/**
 * A caller who reads a stream slowly, end to end: the built app in the local host, through the real (patched)
 * Functions library, streaming from an upstream that writes only as fast as its socket drains. How much the
 * upstream managed to write while the caller held still is the most the app can have buffered, so a bounded
 * figure means bounded memory; without backpressure the whole stream is pulled in at once.
 */

const EVENT_CHARS = 64 * 1024;
const EVENTS = 2_000;
/** 2,000 events of 64 KB: about 128 MB in all. */
const TOTAL_BYTES = EVENTS * (EVENT_CHARS + 200);
/** Socket buffers on three loopback hops plus the streams' own hold a few MB; the limit leaves room. */
const BOUND_BYTES = 48 * 1024 * 1024;

let emulator: Emulator;
let host: SpawnedHost | undefined;
let upstream: Server;
/** Bytes the fake upstream has handed to its socket so far, per request. */
const written: number[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function chunk(index: number): string {
  const data = {
    id: 'chatcmpl-slow',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, delta: { content: String(index % 10).repeat(EVENT_CHARS) }, finish_reason: null }],
  };
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** Azure OpenAI's streamed chat, written only when the socket asks for more (`drain`). */
function startUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    const slot = written.push(0) - 1;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'apim-request-id': 'slow-reader' });
    let index = 0;
    const writeMore = (): void => {
      while (index < EVENTS) {
        const text = chunk(index++);
        written[slot] = (written[slot] ?? 0) + Buffer.byteLength(text);
        if (!res.write(text)) {
          res.once('drain', writeMore);
          return;
        }
      }
      res.end('data: [DONE]\n\n');
    };
    res.on('close', () => res.removeAllListeners('drain'));
    writeMore();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      resolve(server);
    }),
  );
}

/** Waits until `read()` has not changed for `quietMs`, or `timeoutMs` has passed; answers the last value. */
async function settled(read: () => number, quietMs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(100);
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      break;
    }
  }
  return last;
}

beforeAll(async () => {
  [emulator, upstream] = await Promise.all([startEmulator(), startUpstream()]);
  const { port } = upstream.address() as AddressInfo;
  host = await spawnHost({
    env: {
      ...emulator.appSettings(),
      AZURE_OPENAI_ENDPOINT: `http://127.0.0.1:${port}`,
      STREAM_IDLE_TIMEOUT_MS: '60000',
    },
  });
});

afterAll(async () => {
  await host?.close();
  await new Promise((resolve) => upstream.close(resolve));
  await emulator.close();
});

describe('a caller who reads a stream slowly', () => {
  it('slows the upstream down instead of buffering the stream in the app, and still gets all of it', async () => {
    const response = await fetch(`${host?.apiBaseUrl ?? ''}/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await emulator.mintCallerToken()}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], stream: true }),
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let received = (await reader.read()).value?.byteLength ?? 0;

    // NOTE: until the upstream has stopped writing for a second: the buffers between it and the caller are full.
    const whileIdle = await settled(() => written[0] ?? 0, 1_000, 20_000);
    expect(whileIdle).toBeGreaterThan(0);
    expect(whileIdle).toBeLessThan(BOUND_BYTES);

    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      received += next.value.byteLength;
    }
    expect(written[0]).toBeGreaterThanOrEqual(TOTAL_BYTES - EVENTS * 200);
    expect(received).toBeGreaterThan(EVENTS * EVENT_CHARS);
    expect(host?.logs()).not.toMatch(/"status":5\d\d/);
  });
});
