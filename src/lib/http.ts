/**
 * The request and response shapes the gateway's logic works with. `@azure/functions`' HttpRequest satisfies
 * GatewayRequest structurally, so nothing under lib/ depends on the Functions library.
 */
export interface GatewayRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly query: URLSearchParams;
  readonly params: Readonly<Record<string, string>>;
  readonly body: ReadableStream<Uint8Array> | null;
}

export interface GatewayResponse {
  status: number;
  headers: Record<string, string>;
  body?: string | ReadableStream<Uint8Array>;
}

/** What a handler logs through; the invocation context in Azure, so lines reach Application Insights. */
export interface Logger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Headers a browser page may read from any response (CORS hides the rest). */
export const EXPOSED_HEADERS =
  'x-request-id, retry-after, retry-after-ms, x-ratelimit-remaining-requests, x-ratelimit-remaining-tokens';

export const jsonResponse = (
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): GatewayResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  body: JSON.stringify(body),
});
