import type { IncomingMessage } from 'node:http';
import type { CorsSettings } from './readLocalSettings';

function normaliseOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The host's CORS behaviour (ASP.NET Core's middleware with any method and any header, origins from
 * `Host.CORS`): preflights are answered by the host, allowed origins are echoed, a disallowed origin
 * gets no `Access-Control-Allow-Origin`, and `*` never travels together with credentials.
 */
export class CorsPolicy {
  readonly enabled: boolean;
  readonly credentials: boolean;
  readonly anyOrigin: boolean;
  #origins: Set<string>;

  constructor(settings: CorsSettings | undefined) {
    const origins = settings?.origins ?? [];
    this.credentials = settings?.credentials ?? false;
    this.anyOrigin = origins.some((origin) => origin.trim() === '*');
    this.#origins = new Set(origins.map(normaliseOrigin));
    this.enabled = origins.length > 0;
    if (this.anyOrigin && this.credentials) {
      // NOTE: browsers reject `*` with credentials and ASP.NET Core refuses the policy; failing at
      // start is clearer than echoing every origin with cookies allowed.
      throw new Error(
        "CORS allows any origin ('*') together with credentials; list the origins explicitly or turn CORSCredentials off.",
      );
    }
  }

  isPreflight(req: IncomingMessage): boolean {
    return (
      this.enabled &&
      req.method === 'OPTIONS' &&
      headerValue(req, 'origin') !== undefined &&
      headerValue(req, 'access-control-request-method') !== undefined
    );
  }

  /** Headers for the host's 204 answer to a preflight; empty when the origin is not allowed. */
  preflightHeaders(req: IncomingMessage): Record<string, string> {
    const headers = this.responseHeaders(req);
    if (!headers['access-control-allow-origin']) {
      return headers;
    }
    const method = headerValue(req, 'access-control-request-method');
    if (method) {
      headers['access-control-allow-methods'] = method;
    }
    const requestHeaders = headerValue(req, 'access-control-request-headers');
    if (requestHeaders) {
      headers['access-control-allow-headers'] = requestHeaders;
    }
    return headers;
  }

  /** Headers added to any response for a request with an `Origin`. */
  responseHeaders(req: IncomingMessage): Record<string, string> {
    const origin = headerValue(req, 'origin');
    if (!this.enabled || origin === undefined) {
      return {};
    }
    if (this.anyOrigin) {
      return { 'access-control-allow-origin': '*' };
    }
    const headers: Record<string, string> = { vary: 'Origin' };
    if (this.#origins.has(normaliseOrigin(origin))) {
      headers['access-control-allow-origin'] = origin;
      if (this.credentials) {
        headers['access-control-allow-credentials'] = 'true';
      }
    }
    return headers;
  }
}
