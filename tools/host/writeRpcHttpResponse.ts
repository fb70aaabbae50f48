import type { ServerResponse } from 'node:http';
import type { RpcHttpCookie, RpcHttpData, RpcTypedData } from './functionsCoreTypes';

const hopByHopHeaders = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
]);
const sameSiteNames: Partial<Record<NonNullable<RpcHttpCookie['sameSite']>, string>> = {
  lax: 'Lax',
  strict: 'Strict',
  explicitNone: 'None',
};

function toBuffer(data: RpcTypedData | null | undefined): Buffer {
  if (!data) {
    return Buffer.alloc(0);
  }
  if (data.bytes) {
    return Buffer.from(data.bytes.buffer, data.bytes.byteOffset, data.bytes.byteLength);
  }
  if (data.stream) {
    return Buffer.from(data.stream.buffer, data.stream.byteOffset, data.stream.byteLength);
  }
  if (typeof data.string === 'string') {
    return Buffer.from(data.string);
  }
  if (typeof data.json === 'string') {
    return Buffer.from(data.json);
  }
  if (typeof data.int === 'number' || typeof data.double === 'number') {
    return Buffer.from(String(data.int ?? data.double));
  }
  return Buffer.alloc(0);
}

/** Serialises a cookie the worker returned into a `Set-Cookie` value. */
export function toSetCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) {
    parts.push(`Domain=${cookie.domain.value}`);
  }
  if (cookie.path?.value) {
    parts.push(`Path=${cookie.path.value}`);
  }
  const seconds = cookie.expires?.value?.seconds;
  if (typeof seconds === 'number') {
    const millis = seconds * 1000 + Math.floor((cookie.expires?.value?.nanos ?? 0) / 1e6);
    parts.push(`Expires=${new Date(millis).toUTCString()}`);
  }
  const maxAge = cookie.maxAge?.value;
  if (typeof maxAge === 'number') {
    parts.push(`Max-Age=${Math.trunc(maxAge)}`);
  }
  if (cookie.secure?.value) {
    parts.push('Secure');
  }
  if (cookie.httpOnly?.value) {
    parts.push('HttpOnly');
  }
  const sameSite = cookie.sameSite ? sameSiteNames[cookie.sameSite] : undefined;
  if (sameSite) {
    parts.push(`SameSite=${sameSite}`);
  }
  return parts.join('; ');
}

/** Parses the worker's string status code; anything that is not a valid HTTP status is a 500. */
export function toStatusCode(statusCode: string | null | undefined): number {
  if (statusCode === null || statusCode === undefined || statusCode === '') {
    return 200;
  }
  const status = Number(statusCode);
  return Number.isInteger(status) && status >= 100 && status <= 999 ? status : 500;
}

/**
 * Writes a buffered response the worker returned as `RpcHttpData` (the path without `enableHttpStream`):
 * status, headers, cookies, then the whole body with its length. `extraHeaders` (CORS) win over the app's.
 */
export function writeRpcHttpResponse(
  res: ServerResponse,
  http: RpcHttpData,
  extraHeaders: Record<string, string>,
  method: string,
): void {
  const status = toStatusCode(http.statusCode);
  for (const [name, value] of Object.entries(http.headers ?? {})) {
    if (!hopByHopHeaders.has(name.toLowerCase())) {
      res.setHeader(name, value);
    }
  }
  const cookies = (http.cookies ?? []).map(toSetCookie);
  if (cookies.length > 0) {
    const existing = res.getHeader('set-cookie');
    const previous = Array.isArray(existing) ? existing : typeof existing === 'string' ? [existing] : [];
    res.setHeader('set-cookie', [...previous, ...cookies]);
  }
  for (const [name, value] of Object.entries(extraHeaders)) {
    res.setHeader(name, value);
  }
  const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
  const body = noBody ? Buffer.alloc(0) : toBuffer(http.body);
  if (!noBody) {
    res.setHeader('content-length', body.length);
  }
  res.writeHead(status);
  res.end(method === 'HEAD' ? undefined : body);
}
