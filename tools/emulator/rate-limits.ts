import { InvalidInputError, isRecord } from './http-util';

export interface RateLimit {
  tokensPerMinute: number;
  requestsPer10Seconds: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { tokensPerMinute: 100_000, requestsPer10Seconds: 1_000 };

export type Admission =
  | { admitted: true; limit: RateLimit; remainingTokens: number; remainingRequests: number }
  | {
      admitted: false;
      exceeded: 'tokens' | 'requests';
      retryAfterMs: number;
      limit: RateLimit;
      remainingTokens: number;
      remainingRequests: number;
    };

interface Charge {
  at: number;
  tokens: number;
}

const TOKEN_WINDOW_MS = 60_000;
const REQUEST_WINDOW_MS = 10_000;

/** Azure OpenAI's 429 body, worded for the limit that was hit. */
export function rateLimitedBody(
  apiVersion: string,
  exceeded: 'tokens' | 'requests',
  retryAfterSeconds: number,
  // GUESS: Responses calls are named like the chat operation in the same message.
  operation: 'ChatCompletions_Create' | 'Responses_Create' = 'ChatCompletions_Create',
): unknown {
  const what = exceeded === 'tokens' ? 'token rate limit' : 'call rate limit';
  return {
    error: {
      code: '429',
      message: `Requests to the ${operation} Operation under Azure OpenAI API version ${apiVersion} have exceeded ${what} of your current OpenAI S0 pricing tier. Please retry after ${retryAfterSeconds} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`,
    },
  };
}

/** Checks a partial limit that arrived as JSON or from untyped code. */
export function parseRateLimit(value: unknown): Partial<RateLimit> {
  if (!isRecord(value)) throw new InvalidInputError('rate limit must be an object');
  const result: Partial<RateLimit> = {};
  for (const name of ['tokensPerMinute', 'requestsPer10Seconds'] as const) {
    const field = value[name];
    if (field === undefined) continue;
    if (typeof field !== 'number' || !Number.isInteger(field) || field < 0) {
      throw new InvalidInputError(`${name} must be a non-negative integer`);
    }
    result[name] = field;
  }
  return result;
}

/**
 * Per-deployment quota as Azure OpenAI enforces it: tokens charged when the request is admitted (prompt
 * estimate + max_tokens) over a sliding minute, and requests over a sliding 10 seconds.
 */
export class RateLimits {
  private readonly limits = new Map<string, RateLimit>();
  private readonly charges = new Map<string, Charge[]>();

  limitFor(deployment: string): RateLimit {
    return this.limits.get(deployment) ?? DEFAULT_RATE_LIMIT;
  }

  set(deployment: string, limit: Partial<RateLimit>): RateLimit {
    const next = { ...this.limitFor(deployment), ...limit };
    this.limits.set(deployment, next);
    return next;
  }

  reset(): void {
    this.limits.clear();
    this.charges.clear();
  }

  admit(deployment: string, tokens: number, now = Date.now()): Admission {
    const limit = this.limitFor(deployment);
    const charges = (this.charges.get(deployment) ?? []).filter(
      (charge) => charge.at > now - TOKEN_WINDOW_MS,
    );
    this.charges.set(deployment, charges);
    const recentRequests = charges.filter((charge) => charge.at > now - REQUEST_WINDOW_MS);
    const usedTokens = charges.reduce((sum, charge) => sum + charge.tokens, 0);
    const remainingTokens = Math.max(0, limit.tokensPerMinute - usedTokens);
    const remainingRequests = Math.max(0, limit.requestsPer10Seconds - recentRequests.length);

    if (recentRequests.length >= limit.requestsPer10Seconds) {
      const oldest = recentRequests[0]?.at ?? now;
      return {
        admitted: false,
        exceeded: 'requests',
        retryAfterMs: oldest + REQUEST_WINDOW_MS - now,
        limit,
        remainingTokens,
        remainingRequests,
      };
    }
    if (usedTokens + tokens > limit.tokensPerMinute) {
      return {
        admitted: false,
        exceeded: 'tokens',
        retryAfterMs: this.tokenWait(charges, usedTokens, tokens, limit, now),
        limit,
        remainingTokens,
        remainingRequests,
      };
    }
    charges.push({ at: now, tokens });
    return {
      admitted: true,
      limit,
      remainingTokens: remainingTokens - tokens,
      remainingRequests: remainingRequests - 1,
    };
  }

  /** How long until enough charges leave the window for this request to fit (a full window if it never will). */
  private tokenWait(
    charges: readonly Charge[],
    used: number,
    tokens: number,
    limit: RateLimit,
    now: number,
  ): number {
    if (tokens > limit.tokensPerMinute) return TOKEN_WINDOW_MS;
    let stillUsed = used;
    for (const charge of charges) {
      stillUsed -= charge.tokens;
      if (stillUsed + tokens <= limit.tokensPerMinute) return charge.at + TOKEN_WINDOW_MS - now;
    }
    return TOKEN_WINDOW_MS;
  }
}
