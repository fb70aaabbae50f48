import { percentile, round } from './stats';

/**
 * Times server-sent-event streams as a browser would see them: when the first body byte arrives, and when
 * each event arrives. Content events are the ones the upstream spaces apart (a latency fault's perTokenMs),
 * so their spacing on arrival shows whether a path relays them as they come or holds them back.
 */

export interface StreamRequest {
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

interface EventArrival {
  at: number;
  /** Which read delivered it: two events from one read arrived together. */
  read: number;
  content: boolean;
}

export interface StreamTiming {
  status: number;
  /** From sending the request to the first body byte. */
  ttfbMs: number;
  totalMs: number;
  events: EventArrival[];
  bytes: number;
}

function isContentEvent(event: string): boolean {
  const data = event.startsWith('data:') ? event.slice(5).trim() : '';
  if (data === '' || data === '[DONE]') return false;
  try {
    const parsed = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[] };
    const content = parsed.choices?.[0]?.delta?.content;
    return typeof content === 'string' && content.length > 0;
  } catch {
    return false;
  }
}

/** Sends one streaming request and records when each part of the answer arrived. */
export async function timeStream(request: StreamRequest, timeoutMs: number): Promise<StreamTiming> {
  const started = performance.now();
  const response = await fetch(request.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...request.headers },
    body: JSON.stringify(request.body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const events: EventArrival[] = [];
  let ttfbMs = Number.NaN;
  let bytes = 0;
  if (response.body) {
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let pending = '';
    for (let read = 0; ; read++) {
      const { done, value } = await reader.read();
      if (done) break;
      const at = performance.now() - started;
      if (read === 0) ttfbMs = at;
      bytes += value.byteLength;
      pending += decoder.decode(value, { stream: true });
      let boundary = pending.indexOf('\n\n');
      while (boundary !== -1) {
        const event = pending.slice(0, boundary).trim();
        pending = pending.slice(boundary + 2);
        if (event !== '') events.push({ at, read, content: isContentEvent(event) });
        boundary = pending.indexOf('\n\n');
      }
    }
  }
  return { status: response.status, ttfbMs, totalMs: performance.now() - started, events, bytes };
}

export interface SpacingSummary {
  /** Gaps between consecutive content events. */
  gap_p50_ms: number;
  gap_p95_ms: number;
  gap_min_ms: number;
  /** Share of content events that arrived in the same read as the one before (held back, then sent together). */
  coalesced_fraction: number;
  content_events: number;
}

export function spacing(timings: readonly StreamTiming[]): SpacingSummary {
  const gaps: number[] = [];
  let coalesced = 0;
  for (const timing of timings) {
    const content = timing.events.filter((event) => event.content);
    for (let index = 1; index < content.length; index++) {
      const previous = content[index - 1];
      const current = content[index];
      if (!previous || !current) continue;
      gaps.push(current.at - previous.at);
      if (current.read === previous.read) coalesced++;
    }
  }
  return {
    gap_p50_ms: round(percentile(gaps, 50), 2),
    gap_p95_ms: round(percentile(gaps, 95), 2),
    gap_min_ms: round(Math.min(...gaps), 2),
    coalesced_fraction: gaps.length === 0 ? 0 : round(coalesced / gaps.length, 4),
    content_events: timings.reduce((sum, timing) => sum + timing.events.filter((e) => e.content).length, 0),
  };
}

/** Streams timed per path, two paths in one phase. */
export interface AlternatingTimings<T> {
  direct: T[];
  gateway: T[];
}

/**
 * Runs each path `count` times, alternating which of the two goes first (ABBA), after two unrecorded
 * warm-up runs of each: both halves of a comparison come from one phase, under the same conditions.
 */
export async function alternating<T>(
  count: number,
  paths: { direct: (index: number) => Promise<T>; gateway: (index: number) => Promise<T> },
): Promise<AlternatingTimings<T>> {
  const timings: AlternatingTimings<T> = { direct: [], gateway: [] };
  for (let index = -2; index < count; index++) {
    const order = index % 2 === 0 ? (['direct', 'gateway'] as const) : (['gateway', 'direct'] as const);
    for (const name of order) {
      const timing = await paths[name](index);
      if (index >= 0) timings[name].push(timing);
    }
  }
  return timings;
}

/** Times one stream and requires a 200. */
export async function timeOkStream(
  what: string,
  request: StreamRequest,
  timeoutMs: number,
): Promise<StreamTiming> {
  const timing = await timeStream(request, timeoutMs);
  if (timing.status !== 200) throw new Error(`${what} stream answered ${timing.status}`);
  return timing;
}
