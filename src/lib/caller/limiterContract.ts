import { ApiError, retryAfterHeaders } from '../errors';

/**
 * What every per-caller limiter offers, whichever store counts, and the errors all of them answer with, so a
 * caller sees the same 429s and messages from the in-memory limiter and from the shared one.
 */

export type { CallerLimiter, TokenReservation } from './callerLimits';

export const callerLimited = (message: string, waitMs: number): ApiError =>
  new ApiError(429, 'caller_rate_limited', message, { headers: retryAfterHeaders(waitMs) });
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
