import type { ServerResponse } from 'node:http';
import type { StreamBreak } from './faults';
import { sleepUnlessAborted } from './http-util';
import { resetConnection } from './request-log';

/** One server-sent event: `data` is the text after `data: `; `event` adds an `event:` line (Responses API). */
export interface SseEvent {
  event?: string;
  data: string;
  /** Content events are the ones latency faults space apart. */
  content: boolean;
}

export interface SseOptions {
  perTokenMs: number;
  streamBreak: StreamBreak | undefined;
  /** Fires when the client goes or the emulator closes. */
  signal: AbortSignal;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener(
      'abort',
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Writes each event as its own `data: …\n\n` write (so a client sees them arrive one by one), spacing content
 * events by perTokenMs and honouring a reset or stall fault after `afterChunks` events.
 */
export async function writeSse(
  res: ServerResponse,
  events: readonly SseEvent[],
  options: SseOptions,
): Promise<void> {
  let sent = 0;
  let contentSent = 0;
  for (const event of events) {
    if (options.streamBreak && sent >= options.streamBreak.afterChunks) {
      if (options.streamBreak.kind === 'reset') {
        resetConnection(res);
        return;
      }
      // NOTE: a stall keeps the socket open on purpose; it ends when the client gives up or the emulator closes.
      await untilAborted(options.signal);
      res.destroy();
      return;
    }
    if (event.content && contentSent > 0 && !(await sleepUnlessAborted(options.perTokenMs, options.signal)))
      return;
    if (options.signal.aborted) return;
    res.write(
      event.event === undefined
        ? `data: ${event.data}\n\n`
        : `event: ${event.event}\ndata: ${event.data}\n\n`,
    );
    sent += 1;
    if (event.content) contentSent += 1;
  }
  res.end();
}
