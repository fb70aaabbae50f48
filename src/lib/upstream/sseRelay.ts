import type { ReadableStreamReadResult } from 'node:stream/web';
import type { ApiError } from '../errors';

/**
 * Relays an upstream server-sent-event body to the caller byte for byte, as each chunk arrives. Reads are
 * pulled by the caller's side, so a slow reader slows the upstream instead of filling memory. A failure after
 * the first byte ends the stream with a final `data: {"error":…}` event instead of throwing.
 */

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface RelayOutcome {
  outcome: 'completed' | 'failed' | 'cancelled';
  error?: ApiError;
  usage?: Usage;
  events: number;
}

export interface RelayOptions {
  /** Longest silence tolerated between upstream chunks. */
  idleTimeoutMs: number;
  /** Aborts the upstream request (on cancel, timeout or error). */
  abort: () => void;
  /** Turns whatever the upstream read threw into the error to report. */
  toError: (error: unknown, timedOut: boolean) => ApiError;
  onDone: (outcome: RelayOutcome) => void;
  /** The event dialect: how the stream ends, where usage is, how a late failure is told. Default: chat. */
  protocol?: SseProtocol;
  /** Called once, when the first upstream chunk arrives. */
  onFirstChunk?: () => void;
}

/** What one SSE dialect means by its events. */
export interface SseProtocol {
  /** Looks at one complete event: does it end the stream, and what usage does it carry. */
  observe(event: string): { terminal: boolean; usage?: Usage | undefined };
  /** The final event reporting a failure after the first byte; `sequence` counts the events relayed. */
  errorEvent(error: ApiError, sequence: number): string;
}

const encoder = new TextEncoder();
const DONE_MARKER = 'data: [DONE]';

/** Chat completions: ends with `data: [DONE]`; usage rides in a chunk; a failure is `data: {"error":…}`. */
export const chatSseProtocol: SseProtocol = {
  observe: (event) => {
    if (event === DONE_MARKER) return { terminal: true };
    // NOTE: only events that mention usage are parsed; everything else passes through untouched.
    return { terminal: false, usage: event.includes('"usage":{') ? parseUsage(event) : undefined };
  },
  errorEvent: (error) => `data: ${JSON.stringify(error.toBody())}\n\n`,
};

export function relaySse(
  upstream: ReadableStream<Uint8Array>,
  options: RelayOptions,
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let events = 0;
  let sawDone = false;
  let usage: Usage | undefined;
  let finished = false;
  let sawChunk = false;

  const finish = (outcome: RelayOutcome): void => {
    if (finished) return;
    finished = true;
    options.onDone(outcome);
  };

  const protocol = options.protocol ?? chatSseProtocol;
  const observe = (chunk: Uint8Array): void => {
    pending += decoder.decode(chunk, { stream: true });
    let boundary = pending.indexOf('\n\n');
    while (boundary !== -1) {
      const event = pending.slice(0, boundary).trim();
      pending = pending.slice(boundary + 2);
      if (event.length > 0) {
        events++;
        const seen = protocol.observe(event);
        if (seen.terminal) sawDone = true;
        usage = seen.usage ?? usage;
      }
      boundary = pending.indexOf('\n\n');
    }
  };

  const readWithTimeout = async (): Promise<ReadableStreamReadResult<Uint8Array>> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new IdleTimeout());
      }, options.idleTimeoutMs);
    });
    try {
      return await Promise.race([reader.read(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await readWithTimeout();
          if (!done) {
            if (!sawChunk) options.onFirstChunk?.();
            sawChunk = true;
            observe(value);
            controller.enqueue(value);
            return;
          }
          if (!sawDone) throw new PrematureEnd();
          controller.close();
          finish({ outcome: 'completed', events, ...(usage ? { usage } : {}) });
        } catch (caught) {
          options.abort();
          void reader.cancel().catch(() => undefined);
          const error = options.toError(caught, caught instanceof IdleTimeout);
          // NOTE: close an event the upstream left half-written so the error event parses on its own.
          const prefix = pending.length > 0 ? '\n\n' : '';
          controller.enqueue(encoder.encode(`${prefix}${protocol.errorEvent(error, events)}`));
          controller.close();
          finish({ outcome: 'failed', error, events, ...(usage ? { usage } : {}) });
        }
      },
      cancel() {
        options.abort();
        void reader.cancel().catch(() => undefined);
        finish({ outcome: 'cancelled', events, ...(usage ? { usage } : {}) });
      },
    },
    { highWaterMark: 0 },
  );
}

export class IdleTimeout extends Error {
  override name = 'IdleTimeout';
}

export class PrematureEnd extends Error {
  override name = 'PrematureEnd';
}

function parseUsage(event: string): Usage | undefined {
  try {
    const parsed = JSON.parse(event.replace(/^data:\s*/, '')) as { usage?: Usage | null };
    return parsed.usage ?? undefined;
  } catch {
    return undefined;
  }
}
