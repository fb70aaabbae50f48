/**
 * The caller dimension of metrics: pseudonymous and bounded. A caller appears under the same short hash the
 * request log line carries (a SHA-256 prefix of tenant and object id, never a name or a token), for at most
 * `limit` distinct callers per process and window; later callers share the label `other` until the window
 * turns. Azure Monitor counts a custom metric's active time series over 12 hours, so that is the window.
 */

export const NO_CALLER = 'none';
export const OTHER_CALLERS = 'other';
const TWELVE_HOURS_MS = 12 * 60 * 60 * 1000;

export interface CallerLabelOptions {
  limit?: number;
  windowMs?: number;
  now?: () => number;
}

export type CallerLabel = (callerHash: string | undefined) => string;

export function createCallerLabels(options: CallerLabelOptions = {}): CallerLabel {
  const limit = options.limit ?? 100;
  const windowMs = options.windowMs ?? TWELVE_HOURS_MS;
  const now = options.now ?? Date.now;
  let admitted = new Set<string>();
  let windowStart = now();
  return (callerHash) => {
    if (callerHash === undefined) return NO_CALLER;
    const at = now();
    if (at - windowStart >= windowMs) {
      admitted = new Set();
      windowStart = at;
    }
    if (admitted.has(callerHash)) return callerHash;
    if (admitted.size >= limit) return OTHER_CALLERS;
    admitted.add(callerHash);
    return callerHash;
  };
}
