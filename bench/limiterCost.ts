import type { TokenCredential } from '@azure/identity';
import { loadConfig } from '../src/lib/config';
import { createLimiter } from '../src/lib/gateway';
import type { Logger } from '../src/lib/http';
import { startLocalRedis, type LocalRedis } from '../tools/localRedis';
import { inProcessGateway } from './inProcess';
import type { ChatLoad } from './load';
import type { BenchSection } from './section';
import type { Comparison } from './report';
import { added, compare, requireNoErrors, type Runner, type Stage } from './stage';
import { percentile, round } from './stats';

/**
 * What the shared limits store costs a request: the same chat handler in this process with its limits in
 * memory and in a redis-server on loopback (LIMITS_STORE=redis), alternating rounds; and the limiter call a
 * request waits for (reserve) timed alone against each store. In Azure the store is a network hop away in
 * the same region, so the Redis figures here are a floor, not a forecast.
 */

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const noCredential: TokenCredential = {
  getToken: () => Promise.reject(new Error('a loopback Redis without authentication needs no token')),
};
/** Tokens reserved and then settled per request, about what a short chat uses. */
const RESERVED_TOKENS = 300;
const USED_TOKENS = 120;
const CALLERS = 16;

export interface LimiterCostResults {
  /** Chat handler with Redis minus with memory, one request at a time: what the store adds to a request. */
  p50_ms: number;
  p99_ms: number;
  /** Requests per second with Redis over with memory, at the run's concurrency. */
  throughput_ratio: number;
  concurrency: number;
  /** At the run's concurrency, where queueing in this process outweighs a loopback round trip. */
  loaded: Comparison;
  sequential: Comparison;
  /** One reserve() at a time against each store: what a request waits for. */
  reserve: {
    calls: number;
    memory_p50_ms: number;
    memory_p99_ms: number;
    redis_p50_ms: number;
    redis_p99_ms: number;
  };
}

function storeEnv(stage: Stage, redis: LocalRedis | undefined): Record<string, string> {
  if (!redis) return { ...stage.hostEnv, LIMITS_STORE: 'memory' };
  return {
    ...stage.hostEnv,
    LIMITS_STORE: 'redis',
    LIMITS_REDIS_HOST: redis.host,
    LIMITS_REDIS_PORT: String(redis.port),
    LIMITS_REDIS_TLS: 'false',
    LIMITS_REDIS_AUTH: 'none',
    LIMITS_REDIS_FAIL_MODE: 'closed',
  };
}

/** Milliseconds per reserve(), one call at a time; each reservation is settled as a finished request would be. */
async function timeReserve(env: Record<string, string>, calls: number): Promise<number[]> {
  const limiter = createLimiter(loadConfig(env), noCredential, silent);
  try {
    const timings: number[] = [];
    for (let index = 0; index < calls + 50; index++) {
      const started = performance.now();
      const reservation = await limiter.reserve(`bench-caller-${index % CALLERS}`, RESERVED_TOKENS);
      const elapsed = performance.now() - started;
      reservation.settle(USED_TOKENS);
      // NOTE: the first 50 warm up the connection and the script cache.
      if (index >= 50) timings.push(elapsed);
    }
    return timings;
  } finally {
    await limiter.close();
  }
}

async function measure(stage: Stage, redis: LocalRedis): Promise<LimiterCostResults> {
  const { options } = stage;
  const load: ChatLoad = { model: stage.emulator.deployment, maxTokens: options.maxTokens };
  const memoryHandler = inProcessGateway(storeEnv(stage, undefined), stage.callerToken);
  const redisHandler = inProcessGateway(storeEnv(stage, redis), stage.callerToken);
  try {
    stage.log('limiter: warming up both stores');
    await stage.openUpstream();
    requireNoErrors(
      'memory warm-up',
      await memoryHandler.chat(load, options.warmupRequests, options.concurrency),
    );
    requireNoErrors(
      'redis warm-up',
      await redisHandler.chat(load, options.warmupRequests, options.concurrency),
    );
    const paths: { direct: Runner; gateway: Runner } = {
      direct: (count, concurrency, offset) => memoryHandler.chat(load, count, concurrency, offset),
      gateway: (count, concurrency, offset) => redisHandler.chat(load, count, concurrency, offset),
    };
    stage.log(`limiter: ${options.sequentialRequests} chat requests per store one at a time`);
    const sequential = added(await compare(stage, paths, options.sequentialRequests, 1, 2));
    stage.log(`limiter: ${options.requests} chat requests per store at concurrency ${options.concurrency}`);
    const loaded = added(await compare(stage, paths, options.requests, options.concurrency, options.rounds));
    const calls = options.requests;
    stage.log(`limiter: ${calls} reserve() calls per store, one at a time`);
    const memoryReserve = await timeReserve(storeEnv(stage, undefined), calls);
    const redisReserve = await timeReserve(storeEnv(stage, redis), calls);
    return {
      p50_ms: sequential.p50_ms,
      p99_ms: sequential.p99_ms,
      throughput_ratio: loaded.throughput_ratio,
      concurrency: options.concurrency,
      loaded,
      sequential,
      reserve: {
        calls,
        memory_p50_ms: round(percentile(memoryReserve, 50), 3),
        memory_p99_ms: round(percentile(memoryReserve, 99), 3),
        redis_p50_ms: round(percentile(redisReserve, 50), 3),
        redis_p99_ms: round(percentile(redisReserve, 99), 3),
      },
    };
  } finally {
    await Promise.all([memoryHandler.close(), redisHandler.close()]);
  }
}

export const limiterCost: BenchSection = {
  key: 'limiter',
  async run(stage) {
    stage.log('limiter: starting redis-server on loopback');
    const redis = await startLocalRedis();
    let results: LimiterCostResults;
    try {
      results = await measure(stage, redis);
    } finally {
      await redis.close();
    }
    const { loaded, sequential, reserve } = results;
    return {
      results,
      rows: [
        {
          measure: 'shared limits (Redis on loopback) over memory: added p50 / p99, one request at a time',
          target: '≤ 1 ms / ≤ 5 ms',
          measured: `${results.p50_ms} ms / ${results.p99_ms} ms (${sequential.gateway.p50_ms} vs ${sequential.direct.p50_ms} ms p50)`,
          met: results.p50_ms <= 1 && results.p99_ms <= 5,
        },
        {
          measure: `shared limits: throughput / memory limits (concurrency ${results.concurrency})`,
          target: '≥ 0.9',
          measured: `${results.throughput_ratio} (${loaded.gateway.rps} / ${loaded.direct.rps} req/s)`,
          met: results.throughput_ratio >= 0.9,
        },
        {
          measure: `shared limits: added p50 / p99 at concurrency ${results.concurrency}`,
          target: '(informational)',
          measured: `${loaded.p50_ms} ms / ${loaded.p99_ms} ms`,
        },
        {
          measure: 'limiter reserve(), one at a time: memory vs Redis p50 / p99',
          target: '(informational)',
          measured: `${reserve.memory_p50_ms} / ${reserve.memory_p99_ms} ms vs ${reserve.redis_p50_ms} / ${reserve.redis_p99_ms} ms`,
        },
      ],
      details: [
        `Shared limits (chat handler in this process; ${sequential.gateway.requests} requests per store one at a time, ${loaded.gateway.requests} at concurrency ${results.concurrency}): one at a time memory p50 ${sequential.direct.p50_ms} / p99 ${sequential.direct.p99_ms} ms, Redis p50 ${sequential.gateway.p50_ms} / p99 ${sequential.gateway.p99_ms} ms; loaded memory ${loaded.direct.rps} req/s, Redis ${loaded.gateway.rps} req/s. Limiter alone: ${reserve.calls} reserve() calls per store.`,
      ],
    };
  },
};
