import { createHash, randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import type { Config, RedisStoreSettings } from '../config';
import { ApiError } from '../errors';
import type { Logger } from '../http';
import {
  tokensExceedLimit,
  tooManyRequests,
  tooManyStreams,
  tooManyTokens,
  reservationOf,
  uncountedReservation,
  type CallerLimiter,
} from './callerLimits';
import type { LuaScript, RedisConnection, RedisEvents, RedisTarget } from './redisDriver';

/**
 * Per-caller limits kept in a Redis that every instance shares, so a caller gets its limit once however far the
 * app scales out. The same continuous-refill buckets as the in-memory limiter, computed inside Redis by Lua
 * scripts (atomic, on Redis's own clock, so instances' clocks do not matter); every key expires once its bucket
 * would be full again. Stream slots are leases that the instance holding them renews: if the instance dies, its
 * slots free themselves.
 *
 * The store never makes a request wait longer than LIMITS_REDIS_TIMEOUT_MS (2 s while the very first connection
 * opens: TLS, an Entra token, AUTH). When it fails or is slower, the fail
 * mode applies: open serves with the in-memory limiter (this instance's own counts) and logs a warning; closed
 * answers 503 limits_unavailable. After a failure the store is left alone for a second, so an outage costs at
 * most one timeout per second, and it is tried again: it comes back without a restart.
 */

export interface RedisLimiterOptions {
  limits: Config['limits'];
  store: RedisStoreSettings;
  /** The app's credential: its token for https://redis.azure.com is the password, its object id the user. */
  credential: TokenCredential;
  /** Counts while the store is away (fail mode open). */
  fallback: CallerLimiter;
  /** The process log: store outages and recoveries, never per request. */
  log: Pick<Logger, 'warn' | 'info'>;
  /** How long a stream slot outlives an instance that stops renewing it. Default STREAM_LEASE_MS. */
  streamLeaseMs?: number;
  /** Opens the connection; default: node-redis, imported on first use. */
  connect?: (
    target: RedisTarget,
    credential: TokenCredential,
    events: RedisEvents,
  ) => Promise<RedisConnection>;
}

/** The longest a request waits for the first connection: TLS, an Entra token and AUTH. */
const FIRST_CONNECT_BUDGET_MS = 2_000;
/** How long the store is left alone after it failed a request. */
const RETRY_STORE_AFTER_MS = 1_000;
/** A stream slot lives this long unless the instance holding it renews it. */
export const STREAM_LEASE_MS = 30_000;
const KEY_PREFIX = 'gateway:limits:';

const script = (source: string): LuaScript => ({
  source,
  sha1: createHash('sha1').update(source).digest('hex'),
});

// NOTE: the buckets: a hash {l: level, t: ms} per limit; absent means full. Redis's TIME is the one clock.
const BUCKET_LIB = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function level(key, capacity)
  local v = redis.call('HMGET', key, 'l', 't')
  local l, at = tonumber(v[1]), tonumber(v[2])
  if l == nil or at == nil then return capacity end
  local elapsed = now - at
  if elapsed < 0 then elapsed = 0 end
  return math.min(capacity, l + elapsed * capacity / 60000)
end
local function store(key, l, capacity)
  if l >= capacity then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 'l', string.format('%.17g', l), 't', now)
    redis.call('PEXPIRE', key, math.ceil((capacity - l) * 60000 / capacity) + 1000)
  end
end
`;

/** KEYS: requests, tokens. ARGV: rpm, tpm, tokens. → {0, 0} admitted, {1, waitMs} requests, {2, waitMs} tokens. */
const TAKE = script(`${BUCKET_LIB}
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local r, k
if rpm > 0 then
  r = level(KEYS[1], rpm)
  if r < 1 then return {1, math.ceil((1 - r) * 60000 / rpm)} end
end
if tpm > 0 and tokens > 0 then
  k = level(KEYS[2], tpm)
  if k < tokens then return {2, math.ceil((tokens - k) * 60000 / tpm)} end
  store(KEYS[2], k - tokens, tpm)
end
if rpm > 0 then store(KEYS[1], r - 1, rpm) end
return {0, 0}
`);

/** KEYS: tokens. ARGV: tpm, reserved minus used (negative charges extra; the level may go below zero). */
const SETTLE = script(`${BUCKET_LIB}
local tpm, delta = tonumber(ARGV[1]), tonumber(ARGV[2])
store(KEYS[1], math.min(tpm, level(KEYS[1], tpm) + delta), tpm)
return 0
`);

/** KEYS: slots (sorted set, score = lease end). ARGV: max, slot id, lease ms. → 1 taken, 0 full. */
const OPEN_STREAM = script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max, lease = tonumber(ARGV[1]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= max then return 0 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
`);

/** KEYS: slots. ARGV: slot id, lease ms. Also puts the slot back if the store lost it (a restart). */
const RENEW_STREAM = script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
`);

/** KEYS: slots. ARGV: slot id. */
const RELEASE_STREAM = script(`
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`);

export const limitsUnavailable = (): ApiError =>
  new ApiError(
    503,
    'limits_unavailable',
    'Per-caller limits cannot be checked right now, so the request was not sent. Retry in a moment.',
    {
      headers: { 'retry-after': '1' },
      logDetail: 'the shared limits store (LIMITS_REDIS_HOST) did not answer',
    },
  );

class StoreTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms (LIMITS_REDIS_TIMEOUT_MS)`);
    this.name = 'StoreTimeout';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new StoreTimeout(ms));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

/** The caller's keys share one hash tag, so a script's keys sit in one slot of a clustered Redis. */
function keysOf(callerKey: string): { requests: string; tokens: string; streams: string } {
  // NOTE: hashed, so neither caller identities nor braces (which would break the hash tag) reach the store.
  const tag = `{${createHash('sha256').update(callerKey).digest('base64url').slice(0, 22)}}`;
  return {
    requests: `${KEY_PREFIX}${tag}:rpm`,
    tokens: `${KEY_PREFIX}${tag}:tpm`,
    streams: `${KEY_PREFIX}${tag}:streams`,
  };
}

const asReply = (value: unknown): [number, number] => {
  if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'number') {
    return [value[0], value[1]];
  }
  throw new Error('unexpected reply from the limits script');
};

export function createRedisLimiter(options: RedisLimiterOptions): CallerLimiter {
  const { limits, store, fallback, log } = options;
  const { requestsPerMinute: rpm, tokensPerMinute: tpm, concurrentStreams: maxStreams } = limits;
  const leaseMs = options.streamLeaseMs ?? STREAM_LEASE_MS;
  const renewals = new Set<NodeJS.Timeout>();
  let down = false;
  let retryAt = 0;
  let closed = false;

  const events: RedisEvents = {
    error: (message) => {
      markDown(message);
    },
  };
  const connect =
    options.connect ??
    (async (target: RedisTarget, credential: TokenCredential, listener: RedisEvents) =>
      (await import('./redisDriver')).connectRedis(target, credential, listener));
  let connection: Promise<RedisConnection> | undefined;
  let everReady = false;
  /** The client, once its module is loaded (loading is not waiting for the store, so it is not timed). */
  const client = (): Promise<RedisConnection> => {
    connection ??= connect(
      {
        host: store.host,
        port: store.port,
        tls: store.tls,
        auth: store.auth,
        connectTimeoutMs: FIRST_CONNECT_BUDGET_MS,
      },
      options.credential,
      events,
    ).then((redis) => {
      void redis.ready.then(() => (everReady = true));
      return redis;
    });
    return connection;
  };

  /** `op` on the store within the time budget; the first connection (TLS, a token, AUTH) gets a longer one. */
  const timed = async <T>(op: (redis: RedisConnection) => Promise<T>): Promise<T> => {
    const redis = await client();
    if (everReady) return withTimeout(op(redis), store.timeoutMs);
    return withTimeout(
      redis.ready.then(() => op(redis)),
      Math.max(store.timeoutMs, FIRST_CONNECT_BUDGET_MS),
    );
  };

  function markDown(reason: string): void {
    retryAt = Date.now() + RETRY_STORE_AFTER_MS;
    if (down || closed) return;
    down = true;
    log.warn(
      store.failMode === 'open'
        ? `Shared limits store unavailable (${reason}): counting in this instance only until it answers again (LIMITS_REDIS_FAIL_MODE=open).`
        : `Shared limits store unavailable (${reason}): answering 503 until it answers again (LIMITS_REDIS_FAIL_MODE=closed).`,
    );
  }

  function markUp(): void {
    if (!down) return;
    down = false;
    log.info('Shared limits store answers again: limits are shared across instances.');
  }

  /** Runs `op` against the store within the time budget; on failure applies the fail mode via `degraded`. */
  async function guarded<T>(
    op: (redis: RedisConnection) => Promise<T>,
    degraded: () => Promise<T>,
  ): Promise<T> {
    if (Date.now() < retryAt) {
      if (store.failMode === 'closed') throw limitsUnavailable();
      return degraded();
    }
    let reply: T;
    try {
      reply = await timed(op);
    } catch (error) {
      // NOTE: the store answered: the caller is over a limit.
      if (error instanceof ApiError) {
        markUp();
        throw error;
      }
      markDown(error instanceof Error ? error.message : String(error));
      if (store.failMode === 'closed') throw limitsUnavailable();
      return degraded();
    }
    markUp();
    return reply;
  }

  /** Best effort outside a request's path (settle, renew, release): a failure only gets logged as an outage. */
  function quietly(op: (redis: RedisConnection) => Promise<unknown>): void {
    if (closed || Date.now() < retryAt) return;
    timed(op).then(markUp, (error: unknown) => {
      markDown(error instanceof Error ? error.message : String(error));
    });
  }

  const take = <T>(callerKey: string, tokens: number, degraded: () => Promise<T>): Promise<'redis' | T> => {
    const keys = keysOf(callerKey);
    return guarded<'redis' | T>(async (redis) => {
      const [outcome, waitMs] = asReply(
        await redis.evalScript(
          TAKE,
          [keys.requests, keys.tokens],
          [String(rpm), String(tpm), String(tokens)],
        ),
      );
      if (outcome === 1) throw tooManyRequests(rpm, waitMs);
      if (outcome === 2) throw tooManyTokens(tpm, waitMs);
      return 'redis';
    }, degraded);
  };

  return {
    async admit(callerKey) {
      if (rpm === 0) return;
      await take(callerKey, 0, () => fallback.admit(callerKey));
    },

    async reserve(callerKey, estimatedTokens) {
      const reserved = Math.max(0, Math.ceil(estimatedTokens));
      if (tpm > 0 && reserved > tpm) throw tokensExceedLimit(reserved, tpm);
      if (rpm === 0 && (tpm === 0 || reserved === 0)) return uncountedReservation;
      const tokens = tpm > 0 ? reserved : 0;
      const taken = await take(callerKey, tokens, () => fallback.reserve(callerKey, reserved));
      if (taken !== 'redis') return taken;
      if (tpm === 0) return uncountedReservation;
      return reservationOf(reserved, (used) => {
        if (used === reserved) return;
        const { tokens } = keysOf(callerKey);
        quietly((redis) => redis.evalScript(SETTLE, [tokens], [String(tpm), String(reserved - used)]));
      });
    },

    async openStream(callerKey) {
      if (maxStreams === 0) return () => undefined;
      const { streams } = keysOf(callerKey);
      const slot = randomUUID();
      const taken = await guarded<'redis' | (() => void)>(
        async (redis) => {
          const reply = await redis.evalScript(
            OPEN_STREAM,
            [streams],
            [String(maxStreams), slot, String(leaseMs)],
          );
          if (reply !== 1) throw tooManyStreams(maxStreams);
          return 'redis';
        },
        () => fallback.openStream(callerKey),
      );
      if (taken !== 'redis') return taken;
      const renewal = setInterval(() => {
        quietly((redis) => redis.evalScript(RENEW_STREAM, [streams], [slot, String(leaseMs)]));
      }, leaseMs / 3);
      renewal.unref();
      renewals.add(renewal);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        clearInterval(renewal);
        renewals.delete(renewal);
        // NOTE: if this fails the lease still ends the slot within leaseMs.
        quietly((redis) => redis.evalScript(RELEASE_STREAM, [streams], [slot]));
      };
    },

    async close() {
      closed = true;
      for (const renewal of renewals) clearInterval(renewal);
      renewals.clear();
      const open = connection;
      connection = undefined;
      await Promise.all([open?.then((redis) => redis.close()).catch(() => undefined), fallback.close()]);
    },
  };
}
