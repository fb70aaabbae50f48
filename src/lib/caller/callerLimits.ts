import type { Config } from '../config';
import { ApiError, retryAfterHeaders } from '../errors';

/**
 * Per-caller limits: requests per minute, tokens per minute and concurrent streams. Tokens are reserved on an
 * estimate when a request is admitted and settled with what Azure reports it used, so a caller is limited by
 * real usage; a reply longer than its estimate is charged afterwards and delays the caller's next requests.
 */

export interface TokenReservation {
  /** Replaces the reservation with what was really used (refund or extra charge). Idempotent; never throws. */
  settle(usedTokens: number): void;
}

export interface CallerLimiter {
  /** Counts one request against the caller's requests per minute; rejects with a 429 ApiError when over. */
  admit(callerKey: string): Promise<void>;
  /** One request plus a reservation of estimated tokens; rejects with 429, or 400 tokens_exceed_limit when the estimate alone exceeds the per-minute limit. */
  reserve(callerKey: string, estimatedTokens: number): Promise<TokenReservation>;
  /** Takes a stream slot; resolves to an idempotent release function; rejects with 429 when the caller has too many open. */
  openStream(callerKey: string): Promise<() => void>;
  /** Releases resources (timers, connections). */
  close(): Promise<void>;
}

export const MINUTE_MS = 60_000;

/** The 429 every limiter answers with, so callers see one shape whatever store counts. */
export const callerLimited = (message: string, waitMs: number): ApiError =>
  new ApiError(429, 'caller_rate_limited', message, { headers: retryAfterHeaders(waitMs) });

/** Time until a bucket of `capacity` per minute has refilled `missing` units. */
export const refillWaitMs = (missing: number, capacity: number): number =>
  Math.ceil((missing * MINUTE_MS) / capacity);

export const tooManyRequests = (requestsPerMinute: number, waitMs: number): ApiError =>
  callerLimited(
    `Too many requests: the limit is ${requestsPerMinute} per minute. Retry after ${Math.ceil(waitMs / 1000)} seconds.`,
    waitMs,
  );

export const tooManyTokens = (tokensPerMinute: number, waitMs: number): ApiError =>
  callerLimited(
    `Too many tokens: the limit is ${tokensPerMinute} tokens per minute. Retry after ${Math.ceil(waitMs / 1000)} seconds.`,
    waitMs,
  );

export const tooManyStreams = (concurrentStreams: number): ApiError =>
  callerLimited(
    `Too many open streams: at most ${concurrentStreams} at a time. Retry when one finishes.`,
    1_000,
  );

export const tokensExceedLimit = (estimatedTokens: number, tokensPerMinute: number): ApiError =>
  new ApiError(
    400,
    'tokens_exceed_limit',
    `This request needs about ${estimatedTokens} tokens, more than the limit of ${tokensPerMinute} tokens per minute. Shorten the messages.`,
    { param: 'messages' },
  );

/**
 * A reservation of `reserved` tokens that settles once: `apply` gets the tokens really used (a whole,
 * non-negative number; the reservation itself when the count is not a number). Both stores settle through it.
 */
export function reservationOf(reserved: number, apply: (usedTokens: number) => void): TokenReservation {
  let settled = false;
  return {
    settle(usedTokens) {
      if (settled) return;
      settled = true;
      apply(Number.isFinite(usedTokens) ? Math.max(0, Math.ceil(usedTokens)) : reserved);
    },
  };
}

/** The reservation of a store that does not count tokens (LIMIT_TOKENS_PER_MINUTE is 0). */
export const uncountedReservation: TokenReservation = { settle: () => undefined };

interface Bucket {
  level: number;
  updatedAt: number;
}

interface CallerState {
  requests: Bucket;
  tokens: Bucket;
  streams: number;
}

const SWEEP_EVERY_MS = MINUTE_MS;

/** Runs `work` now and hands its result or its error over as a promise. */
function settledPromise<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
/** Refill is fractional: a level that is short by less than this has refilled (floating-point rounding). */
const EPSILON = 1e-6;

/** Continuous refill: a bucket of `capacity` refills fully over a minute. */
function refill(bucket: Bucket, capacity: number, now: number): void {
  bucket.level = Math.min(capacity, bucket.level + ((now - bucket.updatedAt) * capacity) / MINUTE_MS);
  bucket.updatedAt = now;
}

export interface MemoryCallerLimiter extends CallerLimiter {
  /** Number of callers currently tracked (bounded by sweeping idle ones). */
  size(): number;
}

/**
 * The limiter held in this process's memory. Each instance counts on its own, so N instances allow up to N
 * times the limit; the Redis store shares one count between instances.
 */
export function createCallerLimiter(
  limits: Config['limits'],
  now: () => number = Date.now,
): MemoryCallerLimiter {
  const callers = new Map<string, CallerState>();
  const { requestsPerMinute: rpm, tokensPerMinute: tpm } = limits;
  let lastSweep = now();

  const state = (key: string, at: number): CallerState => {
    let current = callers.get(key);
    if (!current) {
      current = {
        requests: { level: rpm, updatedAt: at },
        tokens: { level: tpm, updatedAt: at },
        streams: 0,
      };
      callers.set(key, current);
    }
    return current;
  };

  // NOTE: a caller whose buckets are full and who has no open stream carries no information; forget it.
  const sweep = (at: number): void => {
    if (at - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = at;
    for (const [key, caller] of callers) {
      refill(caller.requests, rpm, at);
      refill(caller.tokens, tpm, at);
      if (caller.streams === 0 && caller.requests.level >= rpm && caller.tokens.level >= tpm) {
        callers.delete(key);
      }
    }
  };

  /** Checks every limit first and changes state only when the request is admitted. */
  const take = (callerKey: string, tokens: number): void => {
    const at = now();
    sweep(at);
    if (tpm > 0 && tokens > tpm) throw tokensExceedLimit(tokens, tpm);
    const caller = state(callerKey, at);
    if (rpm > 0) {
      refill(caller.requests, rpm, at);
      if (caller.requests.level + EPSILON < 1)
        throw tooManyRequests(rpm, refillWaitMs(1 - caller.requests.level, rpm));
    }
    if (tpm > 0 && tokens > 0) {
      refill(caller.tokens, tpm, at);
      if (caller.tokens.level + EPSILON < tokens) {
        throw tooManyTokens(tpm, refillWaitMs(tokens - caller.tokens.level, tpm));
      }
      caller.tokens.level -= tokens;
    }
    if (rpm > 0) caller.requests.level -= 1;
  };

  const reservation = (callerKey: string, reserved: number): TokenReservation =>
    tpm === 0
      ? uncountedReservation
      : reservationOf(reserved, (used) => {
          const at = now();
          // NOTE: the caller may have been swept while the request ran; a fresh full bucket then takes the charge.
          const caller = state(callerKey, at);
          refill(caller.tokens, tpm, at);
          // NOTE: an extra charge may take the level below zero: the caller then waits until the debt refills.
          caller.tokens.level = Math.min(tpm, caller.tokens.level + reserved - used);
        });

  return {
    admit: (callerKey) =>
      settledPromise(() => {
        take(callerKey, 0);
      }),
    reserve(callerKey, estimatedTokens) {
      const reserved = Math.max(0, Math.ceil(estimatedTokens));
      return settledPromise(() => {
        take(callerKey, reserved);
        return reservation(callerKey, reserved);
      });
    },
    openStream(callerKey) {
      const max = limits.concurrentStreams;
      if (max === 0) return Promise.resolve(() => undefined);
      const caller = state(callerKey, now());
      if (caller.streams >= max) return Promise.reject(tooManyStreams(max));
      caller.streams++;
      let released = false;
      return Promise.resolve(() => {
        if (released) return;
        released = true;
        caller.streams--;
      });
    },
    close: () => Promise.resolve(),
    size: () => callers.size,
  };
}
