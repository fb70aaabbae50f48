/** Anything with header lookup: fetch's Headers, or the Azure SDK pipeline's HttpHeaders. */
export interface HeaderSource {
  get(name: string): string | null | undefined;
}

/**
 * Milliseconds an upstream response asks us to wait before retrying, if it says: Azure OpenAI's
 * `retry-after-ms` first, then `retry-after` in seconds or as an HTTP date (RFC 9110 §10.2.3).
 */
export function retryAfterMs(
  headers: HeaderSource | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after')?.trim() ?? '';
  if (value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
