import type { Config } from '../config';
import { ApiError, retryAfterHeaders } from '../errors';

/**
 * Per-caller limits, held in this process's memory: requests per minute, tokens per minute (charged up front
 * as prompt estimate + max tokens, as Azure charges) and concurrent streams. Each instance counts on its own,
 * so N instances allow up to N times the limit; a shared limit belongs in front of the app (API Management).
 */

interface Bucket {
  level: number;
  updatedAt: number;
}

interface CallerState {
  requests: Bucket;
  tokens: Bucket;
  streams: number;
}

const MINUTE_MS = 60_000;
const SWEEP_EVERY_MS = MINUTE_MS;

export interface CallerLimiter {
  /** Charges one request and `tokens`; throws a 429 ApiError when either limit would be exceeded. */
  charge(callerKey: string, tokens: number): void;
  /** Takes a stream slot; the returned function gives it back (idempotent). */
  openStream(callerKey: string): () => void;
  /** Number of callers currently tracked (bounded by sweeping idle ones). */
  size(): number;
}

/** Continuous refill: a bucket of `capacity` refills fully over a minute. */
function refill(bucket: Bucket, capacity: number, now: number): void {
  bucket.level = Math.min(capacity, bucket.level + ((now - bucket.updatedAt) * capacity) / MINUTE_MS);
  bucket.updatedAt = now;
}

const waitFor = (missing: number, capacity: number): number => Math.ceil((missing * MINUTE_MS) / capacity);

export function createCallerLimiter(limits: Config['limits'], now: () => number = Date.now): CallerLimiter {
  const callers = new Map<string, CallerState>();
  let lastSweep = now();

  const state = (key: string, at: number): CallerState => {
    let current = callers.get(key);
    if (!current) {
      current = {
        requests: { level: limits.requestsPerMinute, updatedAt: at },
        tokens: { level: limits.tokensPerMinute, updatedAt: at },
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
      refill(caller.requests, limits.requestsPerMinute, at);
      refill(caller.tokens, limits.tokensPerMinute, at);
      if (
        caller.streams === 0 &&
        caller.requests.level >= limits.requestsPerMinute &&
        caller.tokens.level >= limits.tokensPerMinute
      ) {
        callers.delete(key);
      }
    }
  };

  const limited = (message: string, waitMs: number) =>
    new ApiError(429, 'caller_rate_limited', message, { headers: retryAfterHeaders(waitMs) });

  return {
    charge(callerKey, tokens) {
      const at = now();
      sweep(at);
      const caller = state(callerKey, at);
      const { requestsPerMinute: rpm, tokensPerMinute: tpm } = limits;
      if (rpm > 0) {
        refill(caller.requests, rpm, at);
        if (caller.requests.level < 1) {
          const wait = waitFor(1 - caller.requests.level, rpm);
          throw limited(
            `Too many requests: the limit is ${rpm} per minute. Retry after ${Math.ceil(wait / 1000)} seconds.`,
            wait,
          );
        }
      }
      if (tpm > 0) {
        refill(caller.tokens, tpm, at);
        if (tokens > tpm) {
          throw new ApiError(
            400,
            'tokens_exceed_limit',
            `This request needs about ${tokens} tokens, more than the limit of ${tpm} tokens per minute. Lower max_tokens or shorten the messages.`,
            { param: 'max_tokens' },
          );
        }
        if (caller.tokens.level < tokens) {
          const wait = waitFor(tokens - caller.tokens.level, tpm);
          throw limited(
            `Too many tokens: the limit is ${tpm} tokens per minute. Retry after ${Math.ceil(wait / 1000)} seconds.`,
            wait,
          );
        }
        caller.tokens.level -= tokens;
      }
      if (rpm > 0) caller.requests.level -= 1;
    },
    openStream(callerKey) {
      const max = limits.concurrentStreams;
      if (max === 0) return () => undefined;
      const caller = state(callerKey, now());
      if (caller.streams >= max) {
        throw limited(`Too many open streams: at most ${max} at a time. Retry when one finishes.`, 1_000);
      }
      caller.streams++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        caller.streams--;
      };
    },
    size: () => callers.size,
  };
}

/** Prompt estimate as Azure does it: about four characters a token, plus a little per message. */
export function estimatePromptTokens(messages: readonly { content?: unknown }[]): number {
  let characters = 0;
  for (const message of messages) characters += JSON.stringify(message.content ?? '').length;
  return Math.ceil(characters / 4) + messages.length * 4;
}
