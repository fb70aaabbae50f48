import type { ErrorCode, UpstreamCode } from './errorCodes';

/**
 * The one error shape every response uses: the OpenAI envelope `{"error":{"message","type","code","param"}}`.
 * Expected errors carry their own HTTP response; anything else becomes a generic 500.
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'server_error';

export interface ErrorBody {
  error: { message: string; type: ErrorType; code: string; param: string | null; [extra: string]: unknown };
}

export interface ApiErrorOptions {
  param?: string | null;
  headers?: Record<string, string>;
  /** Extra, non-secret fields for the envelope (for example content-filter categories). */
  details?: Record<string, unknown>;
  /** What the log should say; never sent to the caller. */
  logDetail?: string;
}

const typeForStatus = (status: number): ErrorType => {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 502 || status === 503 || status === 504) return 'upstream_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
};

export class ApiError extends Error {
  readonly type: ErrorType;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown>;
  readonly logDetail: string | undefined;

  constructor(
    readonly status: number,
    readonly code: ErrorCode | UpstreamCode,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.type = typeForStatus(status);
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.details = options.details ?? {};
    this.logDetail = options.logDetail;
  }

  toBody(): ErrorBody {
    return {
      error: { message: this.message, type: this.type, code: this.code, param: this.param, ...this.details },
    };
  }
}

export const internalError = (): ApiError =>
  new ApiError(
    500,
    'internal_error',
    'The server had an unexpected error. Quote the x-request-id header when reporting it.',
  );

/** Seconds to wait, rounded up, for a `Retry-After` header. */
export const retryAfterHeaders = (retryAfterMs: number): Record<string, string> => ({
  'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
  'retry-after-ms': String(Math.max(0, Math.round(retryAfterMs))),
});
