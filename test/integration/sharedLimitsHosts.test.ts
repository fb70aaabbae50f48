import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';
import { spawnHost, type SpawnedHost } from '../../tools/host/index';
import {
  acceptEntraLogins,
  startLocalRedis,
  type EntraLogins,
  type LocalRedis,
} from '../../tools/localRedis';
import { errorOf, hello } from './http';

/**
 * Two instances of the built app, each in its own local host, configured only by settings (LIMITS_STORE=redis)
 * and sharing one redis-server: a caller's requests, tokens and streams per minute hold for the sum of both.
 * The app logs in to Redis as its managed identity with the emulator's token for https://redis.azure.com (the
 * local Redis makes each issued token an ACL password, as Azure Managed Redis's access policy does). Instance
 * A fails closed, instance B fails open, so taking the store away shows both modes and their recovery.
 */

const REQUESTS_PER_MINUTE = 4;
const TOKENS_PER_MINUTE = 1_000;

let emulator: Emulator;
let redis: LocalRedis;
let a: SpawnedHost;
let b: SpawnedHost;
let logins: EntraLogins;
/** What afterAll stops, in order: hosts first, then what they use. */
const running: { close(): Promise<void> }[][] = [[], []];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  [emulator, redis] = await Promise.all([startEmulator(), startLocalRedis()]);
  running[1]?.push(emulator, redis);
  logins = acceptEntraLogins(redis, (listener) => emulator.onServiceToken(listener));
  const settings = {
    ...emulator.appSettings(),
    LIMIT_REQUESTS_PER_MINUTE: String(REQUESTS_PER_MINUTE),
    LIMIT_TOKENS_PER_MINUTE: String(TOKENS_PER_MINUTE),
    LIMIT_CONCURRENT_STREAMS: '1',
    LIMITS_STORE: 'redis',
    LIMITS_REDIS_HOST: redis.host,
    LIMITS_REDIS_PORT: String(redis.port),
    LIMITS_REDIS_TLS: 'false',
    LIMITS_REDIS_AUTH: 'entra',
    LIMITS_REDIS_TIMEOUT_MS: '500',
  };
  [a, b] = await Promise.all([
    spawnHost({ env: { ...settings, LIMITS_REDIS_FAIL_MODE: 'closed' } }),
    spawnHost({ env: { ...settings, LIMITS_REDIS_FAIL_MODE: 'open' } }),
  ]);
  running[0]?.push(a, b);
});

afterAll(async () => {
  for (const group of running) await Promise.all(group.map((item) => item.close()));
});

/** A caller of its own per test, so one test's counts never reach another. */
const newCaller = () => emulator.mintCallerToken({ claims: { oid: randomUUID() } });

function call(host: SpawnedHost, token: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${host.apiBaseUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe('two instances sharing one Redis', () => {
  it('logs in to Redis as the app identity, never with a key', async () => {
    const response = await call(a, await newCaller(), '/models');
    expect(response.status).toBe(200);
    expect(logins.issued.length).toBeGreaterThanOrEqual(1);
    const users = String(await redis.command('CLIENT', 'LIST'));
    expect(users).toContain(` user=${logins.issued[0]?.objectId ?? 'none'} `);
    expect(a.logs()).toContain(`limits: shared in Redis at ${redis.host}:${redis.port} (fail mode closed)`);
    for (const host of [a, b]) expect(host.logs()).not.toContain(logins.issued[0]?.token ?? 'none');
  });

  it("holds a caller's requests per minute across both instances", async () => {
    const token = await newCaller();
    const statuses: number[] = [];
    for (let index = 0; index < REQUESTS_PER_MINUTE + 2; index++) {
      const response = await call(index % 2 === 0 ? a : b, token, '/models');
      statuses.push(response.status);
      if (response.status === 429) expect((await errorOf(response)).code).toBe('caller_rate_limited');
      else await response.arrayBuffer();
    }
    // NOTE: counted per instance, each would have let all six through.
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it("holds a caller's tokens per minute across both instances", async () => {
    const token = await newCaller();
    // NOTE: about 2,000 characters: a ~500-token estimate plus 256 expected; Azure's usage then settles it.
    const long = hello({ messages: [{ role: 'user', content: 'word '.repeat(400) }], max_tokens: 4 });
    const first = await call(a, token, '/chat/completions', long);
    expect(first.status).toBe(200);
    const { usage } = (await first.json()) as { usage: { total_tokens: number } };
    expect(usage.total_tokens).toBeGreaterThan(TOKENS_PER_MINUTE / 3);

    const second = await call(b, token, '/chat/completions', long);
    expect(second.status).toBe(429);
    expect((await errorOf(second)).message).toMatch(/Too many tokens/);
  });

  it("holds a caller's concurrent streams across both instances, and frees the slot when the stream ends", async () => {
    const token = await newCaller();
    await emulator.admin.setFault({ kind: 'latency', perTokenMs: 40 });
    try {
      const abort = new AbortController();
      const open = await fetch(`${a.apiBaseUrl}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        // NOTE: 400 words 40 ms apart: the stream outlasts the test unless it is aborted.
        body: JSON.stringify(
          hello({
            messages: [{ role: 'user', content: 'Go on [[words:400]]' }],
            max_tokens: 400,
            stream: true,
          }),
        ),
        signal: abort.signal,
      });
      expect(open.status).toBe(200);
      const reader = (open.body as ReadableStream<Uint8Array>).getReader();
      expect((await reader.read()).done).toBe(false);

      const refused = await call(b, token, '/chat/completions', hello({ stream: true }));
      expect(refused.status).toBe(429);
      expect((await errorOf(refused)).message).toMatch(/Too many open streams/);

      abort.abort();
      let next: Response | undefined;
      for (let attempt = 0; attempt < 40; attempt++) {
        next = await call(b, token, '/chat/completions', hello({ stream: true, max_tokens: 2 }));
        if (next.status !== 429) break;
        await next.arrayBuffer();
        await sleep(50);
      }
      expect(next?.status).toBe(200);
      expect(await next?.text()).toContain('data: [DONE]');
    } finally {
      await emulator.admin.clearFaults();
    }
  });

  it('fails closed on one instance and open on the other while the store is away, and both recover', async () => {
    const token = await newCaller();
    await redis.stop();
    try {
      const closed = await call(a, token, '/models');
      expect(closed.status).toBe(503);
      expect(closed.headers.get('retry-after')).toBe('1');
      expect((await errorOf(closed)).code).toBe('limits_unavailable');

      const open = await call(b, token, '/models');
      expect(open.status).toBe(200);
      await open.arrayBuffer();
      expect(b.logs()).toMatch(/Shared limits store unavailable .*LIMITS_REDIS_FAIL_MODE=open/);
    } finally {
      await redis.start();
      // NOTE: a restarted local Redis forgets its users; Azure keeps the access policy assignment.
      await logins.restore();
    }

    for (const host of [a, b]) {
      let status = 0;
      for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
        const response = await call(host, await newCaller(), '/models');
        status = response.status;
        await response.arrayBuffer();
        if (status !== 200) await sleep(100);
      }
      expect(status).toBe(200);
    }
    expect(a.logs()).toMatch(/Shared limits store answers again/);
    expect(a.logs()).not.toMatch(/"status":500/);
    expect(b.logs()).not.toMatch(/"status":500/);
  });
});
