import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TokenCredential } from '@azure/identity';
import type { CallerLimiter } from '../../src/lib/caller/callerLimits';
import { createRedisLimiter, type RedisLimiterOptions } from '../../src/lib/caller/redisLimiter';
import type { Config } from '../../src/lib/config';
import { ApiError } from '../../src/lib/errors';
import { startLocalRedis, type LocalRedis } from '../../tools/localRedis';

// Two limiters over one real redis-server stand for two instances of the app: every limit must hold for the
// sum of both. The store is then stopped, frozen and brought back under each fail mode.

const limits: Config['limits'] = {
  requestsPerMinute: 4,
  tokensPerMinute: 1_000,
  maxTokens: 4096,
  concurrentStreams: 2,
  expectedCompletionTokens: 256,
};
const TIMEOUT_MS = 300;
const noCredential: TokenCredential = { getToken: () => Promise.reject(new Error('not used')) };

let redis: LocalRedis;
const opened: CallerLimiter[] = [];

beforeAll(async () => {
  redis = await startLocalRedis();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((limiter) => limiter.close()));
  await redis.start();
  redis.resume();
});

afterAll(async () => {
  await redis.close();
});

interface Instance {
  limiter: CallerLimiter;
  /** What reached the in-memory fallback. */
  fellBack: string[];
  logs: { level: 'warn' | 'info'; text: string }[];
}

function instance(
  options: {
    failMode?: 'open' | 'closed';
    limits?: Partial<Config['limits']>;
  } & Partial<RedisLimiterOptions> = {},
): Instance {
  const fellBack: string[] = [];
  const logs: Instance['logs'] = [];
  const fallback: CallerLimiter = {
    admit: (key) => {
      fellBack.push(`admit ${key}`);
      return Promise.resolve();
    },
    reserve: (key, tokens) => {
      fellBack.push(`reserve ${key} ${tokens}`);
      return Promise.resolve({ settle: () => undefined });
    },
    openStream: (key) => {
      fellBack.push(`stream ${key}`);
      return Promise.resolve(() => undefined);
    },
    close: () => Promise.resolve(),
  };
  const limiter = createRedisLimiter({
    limits: { ...limits, ...options.limits },
    store: {
      host: redis.host,
      port: redis.port,
      tls: false,
      auth: 'none',
      failMode: options.failMode ?? 'open',
      timeoutMs: TIMEOUT_MS,
    },
    credential: noCredential,
    fallback,
    log: {
      warn: (...args: unknown[]) => logs.push({ level: 'warn', text: args.map(String).join(' ') }),
      info: (...args: unknown[]) => logs.push({ level: 'info', text: args.map(String).join(' ') }),
    },
    ...(options.streamLeaseMs === undefined ? {} : { streamLeaseMs: options.streamLeaseMs }),
  });
  opened.push(limiter);
  return { limiter, fellBack, logs };
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `check` until it passes: the store is tried again a second after a failure. */
async function eventually(check: () => Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

describe('limits shared by two instances through one Redis', () => {
  it("holds a caller's requests per minute for both instances together", async () => {
    const [a, b] = [instance(), instance()];
    const caller = randomUUID();
    for (const limiter of [a, b, a, b]) await limiter.limiter.admit(caller);

    const error = await rejection(b.limiter.admit(caller));
    expect(error.status).toBe(429);
    expect(error.code).toBe('caller_rate_limited');
    expect(error.message).toMatch(
      /^Too many requests: the limit is 4 per minute\. Retry after \d+ seconds\.$/,
    );
    // NOTE: one request refills in 15 s at 4 per minute.
    expect(Number(error.headers['retry-after-ms'])).toBeGreaterThan(13_000);
    expect(Number(error.headers['retry-after-ms'])).toBeLessThanOrEqual(15_000);
    expect(error.headers['retry-after']).toBe(
      String(Math.ceil(Number(error.headers['retry-after-ms']) / 1000)),
    );
    await expect(a.limiter.admit(randomUUID())).resolves.toBeUndefined();
    expect([...a.fellBack, ...b.fellBack]).toEqual([]);
  });

  it("holds a caller's tokens per minute for both, and a settled refund is seen by the other", async () => {
    const [a, b] = [
      instance({ limits: { ...limits, requestsPerMinute: 0 } }),
      instance({ limits: { ...limits, requestsPerMinute: 0 } }),
    ];
    const caller = randomUUID();
    const first = await a.limiter.reserve(caller, 600);

    const error = await rejection(b.limiter.reserve(caller, 600));
    expect(error.status).toBe(429);
    expect(error.message).toMatch(
      /^Too many tokens: the limit is 1000 tokens per minute\. Retry after \d+ seconds\./,
    );

    first.settle(100);
    first.settle(0);
    await eventually(async () => {
      await b.limiter.reserve(caller, 600);
    });
    await expect(rejection(a.limiter.reserve(caller, 400))).resolves.toMatchObject({ status: 429 });
  });

  it('charges the other instance for a reply longer than its reservation', async () => {
    const [a, b] = [
      instance({ limits: { ...limits, requestsPerMinute: 0 } }),
      instance({ limits: { ...limits, requestsPerMinute: 0 } }),
    ];
    const caller = randomUUID();
    (await a.limiter.reserve(caller, 100)).settle(900);
    await eventually(async () => {
      await expect(rejection(b.limiter.reserve(caller, 200))).resolves.toMatchObject({ status: 429 });
    });
  });

  it('refuses a request whose estimate alone exceeds the limit with a 400, without asking the store', async () => {
    redis.pause();
    const started = performance.now();
    const error = await rejection(instance().limiter.reserve(randomUUID(), 1_001));
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS);
    expect(error.status).toBe(400);
    expect(error.code).toBe('tokens_exceed_limit');
  });

  it("holds a caller's concurrent streams for both, and a released slot is free for either", async () => {
    const [a, b] = [instance(), instance()];
    const caller = randomUUID();
    const release = await a.limiter.openStream(caller);
    await b.limiter.openStream(caller);

    const error = await rejection(a.limiter.openStream(caller));
    expect(error.status).toBe(429);
    expect(error.message).toBe('Too many open streams: at most 2 at a time. Retry when one finishes.');
    expect(error.headers['retry-after']).toBe('1');
    await expect(b.limiter.openStream(randomUUID())).resolves.toBeTypeOf('function');

    release();
    release();
    await eventually(async () => {
      await b.limiter.openStream(caller);
    });
    await expect(rejection(a.limiter.openStream(caller))).resolves.toMatchObject({ status: 429 });
  });

  it('frees the slots of an instance that stopped, once their lease runs out, and renews a live one', async () => {
    const caller = randomUUID();
    const dying = instance({ streamLeaseMs: 1_500 });
    const living = instance({ streamLeaseMs: 1_500 });
    await dying.limiter.openStream(caller);
    await living.limiter.openStream(caller);
    // NOTE: closing without releasing is what a crashed instance leaves behind.
    await dying.limiter.close();
    await expect(rejection(living.limiter.openStream(caller))).resolves.toMatchObject({ status: 429 });

    await sleep(2_500);
    await living.limiter.openStream(caller);
    await expect(rejection(living.limiter.openStream(caller))).resolves.toMatchObject({ status: 429 });
  });

  it('leaves only keys that expire by themselves, named without the caller identity', async () => {
    const caller = `tenant/${randomUUID()}`;
    const { limiter } = instance();
    await limiter.admit(caller);
    (await limiter.reserve(caller, 300)).settle(200);
    await limiter.openStream(caller);
    await sleep(100);

    const keys = (await redis.command('KEYS', 'gateway:limits:*')) as string[];
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const key of keys) {
      expect(key).not.toContain(caller);
      const ttl = Number(await redis.command('PTTL', key));
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(61_000);
    }
  });
});

describe('when the store goes away', () => {
  it('fail-open: serves through the in-memory limiter at once, warns once, and shares again when it returns', async () => {
    const caller = randomUUID();
    const { limiter, fellBack, logs } = instance({ failMode: 'open' });
    await limiter.admit(caller);
    await redis.stop();

    for (let index = 0; index < 3; index++) {
      const started = performance.now();
      await limiter.admit(caller);
      (await limiter.reserve(caller, 10)).settle(10);
      await limiter.openStream(caller);
      expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 1_000);
    }
    expect(fellBack).toContain(`admit ${caller}`);
    expect(fellBack).toContain(`reserve ${caller} 10`);
    expect(fellBack).toContain(`stream ${caller}`);
    expect(logs.filter((line) => line.level === 'warn')).toHaveLength(1);
    expect(logs[0]?.text).toMatch(/Shared limits store unavailable .*LIMITS_REDIS_FAIL_MODE=open/);

    await redis.start();
    fellBack.length = 0;
    await eventually(async () => {
      const before = fellBack.length;
      await limiter.admit(randomUUID());
      expect(fellBack.length).toBe(before);
    }, 10_000);
    expect(logs.at(-1)).toMatchObject({
      level: 'info',
      text: expect.stringMatching(/answers again/) as string,
    });
    // NOTE: the restarted store is empty, so the caller starts again from a full bucket shared by both.
    for (let index = 0; index < 3; index++) await limiter.admit(caller);
  });

  it('fail-closed: answers 503 limits_unavailable without waiting, then recovers when it returns', async () => {
    const caller = randomUUID();
    const { limiter, fellBack, logs } = instance({ failMode: 'closed' });
    await limiter.admit(caller);
    await redis.stop();

    for (const attempt of [
      () => limiter.admit(caller),
      () => limiter.reserve(caller, 10),
      () => limiter.openStream(caller),
    ]) {
      const started = performance.now();
      const error = await rejection(attempt());
      expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 1_000);
      expect(error.status).toBe(503);
      expect(error.code).toBe('limits_unavailable');
      expect(error.toBody().error.type).toBe('upstream_error');
      expect(error.headers['retry-after']).toBe('1');
    }
    expect(fellBack).toEqual([]);
    expect(logs[0]?.text).toMatch(/answering 503 .*LIMITS_REDIS_FAIL_MODE=closed/);

    await redis.start();
    await eventually(async () => {
      await limiter.admit(caller);
    }, 10_000);
  });

  it('never waits longer than the timeout for a store that accepts connections but does not answer', async () => {
    const caller = randomUUID();
    const open = instance({ failMode: 'open' });
    const closed = instance({ failMode: 'closed' });
    await open.limiter.admit(caller);
    await closed.limiter.admit(caller);
    redis.pause();

    const started = performance.now();
    await open.limiter.admit(caller);
    const openMs = performance.now() - started;
    expect(open.fellBack).toEqual([`admit ${caller}`]);
    expect(openMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(openMs).toBeLessThan(TIMEOUT_MS + 1_000);
    // NOTE: right after a failure the store is not asked again for a second: no second wait.
    const again = performance.now();
    await open.limiter.admit(caller);
    expect(performance.now() - again).toBeLessThan(TIMEOUT_MS / 2);

    const closedStart = performance.now();
    await expect(rejection(closed.limiter.admit(caller))).resolves.toMatchObject({ status: 503 });
    expect(performance.now() - closedStart).toBeLessThan(TIMEOUT_MS + 1_000);

    redis.resume();
    await eventually(async () => {
      const before = open.fellBack.length;
      await open.limiter.admit(randomUUID());
      expect(open.fellBack.length).toBe(before);
    });
  });
});
