import { randomUUID } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerLimiter } from '../../src/lib/caller/callerLimits';
import { createRedisLimiter } from '../../src/lib/caller/redisLimiter';
import { startEmulator, type Emulator } from '../../tools/emulator/index';
import {
  acceptEntraLogins,
  startLocalRedis,
  type EntraLogins,
  type LocalRedis,
} from '../../tools/localRedis';

// The Entra path end to end: the limiter's Redis client gets a token for https://redis.azure.com from the app's
// managed identity (the emulator's identity endpoint) and sends it as the password of the user named by the
// identity's object id. The local redis-server stands in for Azure Managed Redis by making each such token an
// ACL password of that user. Tokens here live 6 s, so the client must renew one while the test watches.

const TOKEN_LIFETIME_SECONDS = 6;
const limits = {
  requestsPerMinute: 100,
  tokensPerMinute: 0,
  maxTokens: 4096,
  concurrentStreams: 0,
  expectedCompletionTokens: 256,
};
const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

let emulator: Emulator;
let redis: LocalRedis;
let limiter: CallerLimiter;
let logins: EntraLogins;
const logs: string[] = [];

beforeAll(async () => {
  [emulator, redis] = await Promise.all([
    startEmulator({ serviceTokenLifetimeSeconds: { 'https://redis.azure.com': TOKEN_LIFETIME_SECONDS } }),
    startLocalRedis(),
  ]);
  process.env.IDENTITY_ENDPOINT = emulator.urls.identity;
  process.env.IDENTITY_HEADER = emulator.identityHeader;
  // NOTE: the default user keeps working for the test's own commands; the limiter must log in as the identity.
  logins = acceptEntraLogins(redis, (listener) => emulator.onServiceToken(listener));
  limiter = createRedisLimiter({
    limits,
    store: {
      host: redis.host,
      port: redis.port,
      tls: false,
      auth: 'entra',
      failMode: 'closed',
      timeoutMs: 1_000,
    },
    credential: new ManagedIdentityCredential({
      clientId: emulator.principals.userAssigned.clientId,
      retryOptions: { maxRetries: 0 },
    }),
    fallback: {
      admit: () => Promise.reject(new Error('fallback used')),
      reserve: () => Promise.reject(new Error('fallback used')),
      openStream: () => Promise.reject(new Error('fallback used')),
      close: () => Promise.resolve(),
    },
    log: {
      warn: (...args: unknown[]) => logs.push(args.join(' ')),
      info: (...args: unknown[]) => logs.push(args.join(' ')),
    },
  });
});

afterAll(async () => {
  await limiter.close();
  await Promise.all([redis.close(), emulator.close()]);
  if (saved.endpoint === undefined) delete process.env.IDENTITY_ENDPOINT;
  else process.env.IDENTITY_ENDPOINT = saved.endpoint;
  if (saved.header === undefined) delete process.env.IDENTITY_HEADER;
  else process.env.IDENTITY_HEADER = saved.header;
});

const objectId = () => emulator.principals.userAssigned.objectId;

/** The limiter's connections: the ones logged in as the identity. */
async function identityConnections(): Promise<string[]> {
  const list = String(await redis.command('CLIENT', 'LIST'));
  return list
    .split('\n')
    .filter((line) => line.includes(` user=${objectId()} `))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1] ?? '');
}

async function authStats(): Promise<{ calls: number; failed: number; rejected: number }> {
  const info = String(await redis.command('INFO', 'commandstats'));
  const line = /cmdstat_auth:([^\r\n]*)/.exec(info)?.[1] ?? '';
  const field = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(line)?.[1] ?? 0);
  return { calls: field('calls'), failed: field('failed_calls'), rejected: field('rejected_calls') };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the shared limits store with Microsoft Entra authentication', () => {
  it("logs in as the app identity's object id with its Redis-audience token", async () => {
    await limiter.admit(randomUUID());

    expect(logins.issued.length).toBeGreaterThanOrEqual(1);
    expect(logins.issued[0]?.objectId).toBe(objectId());
    expect(await identityConnections()).toHaveLength(1);
    expect(logs.join('\n')).not.toContain(logins.issued[0]?.token ?? 'no token');
  });

  it('renews the token before it expires and re-authenticates the open connection without dropping it', async () => {
    await limiter.admit(randomUUID());
    const [connection] = await identityConnections();
    const before = { tokens: logins.issued.length, auth: await authStats() };

    const deadline = Date.now() + TOKEN_LIFETIME_SECONDS * 2_000;
    while ((await authStats()).calls === before.auth.calls && Date.now() < deadline) await sleep(200);

    expect(logins.issued.length).toBeGreaterThan(before.tokens);
    expect(await authStats()).toMatchObject({ failed: 0, rejected: 0 });
    expect((await authStats()).calls).toBeGreaterThan(before.auth.calls);
    expect(await identityConnections()).toEqual([connection]);
    await limiter.admit(randomUUID());
    expect(String(await redis.command('ACL', 'LOG'))).toBe('');
  });

  it('reconnects with the current token once the first one is revoked and the connection is cut', async () => {
    const first = logins.issued[0]?.token ?? '';
    await redis.command('ACL', 'SETUSER', objectId(), `<${first}`);
    await redis.command('CLIENT', 'KILL', 'USER', objectId());

    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await limiter.admit(randomUUID());
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
    expect(await identityConnections()).toHaveLength(1);
    expect(String(await redis.command('ACL', 'LOG'))).toBe('');
  });
});
