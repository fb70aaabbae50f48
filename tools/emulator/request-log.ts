import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from './http-util';

/**
 * How an upstream request ended, seen from the emulator's side of the socket:
 * - `open`: still being served;
 * - `completed`: the whole answer was written;
 * - `cancelled`: the client closed the connection before the answer ended (an aborted fetch, a gateway that
 *   gave up, a timeout);
 * - `reset`: the emulator cut the connection itself (a `reset` fault).
 */
export type RequestOutcome = 'open' | 'completed' | 'cancelled' | 'reset';

/** One request the Azure OpenAI data plane received. Times are epoch milliseconds. */
export interface UpstreamRequestRecord {
  /** 1, 2, 3… in arrival order, never reused until the emulator restarts. */
  seq: number;
  method: string;
  /** Path and query as received, e.g. `/openai/deployments/gpt-4o-mini/chat/completions?api-version=…`. */
  path: string;
  /** The status line sent, or null when the connection closed before any was. */
  status: number | null;
  outcome: RequestOutcome;
  receivedAt: number;
  /** When the answer was fully written or the connection closed; null while open. */
  endedAt: number | null;
  /** The request body as parsed JSON, the raw text when it is not JSON, or null when none was read whole. */
  body: unknown;
}

/** Most records kept; older ones are dropped so a long `npm run emulator` session stays small. */
const MAX_RECORDS = 2_000;

/** Bodies the handlers read whole, so the log can show them without reading the request a second time. */
const bodiesRead = new WeakMap<IncomingMessage, string>();
/** Responses the emulator cut on purpose (faults), as opposed to the client going away. */
const resetByEmulator = new WeakSet<ServerResponse>();

export function noteBodyRead(req: IncomingMessage, text: string): void {
  bodiesRead.set(req, text);
}

/** Cuts the connection on purpose; the record says `reset`, not `cancelled`. */
export function resetConnection(res: ServerResponse): void {
  resetByEmulator.add(res);
  res.destroy();
}

function parsedBody(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export class RequestLog {
  #records: UpstreamRequestRecord[] = [];
  #seq = 0;

  list(): UpstreamRequestRecord[] {
    return this.#records.map((record) => ({ ...record }));
  }

  clear(): void {
    this.#records = [];
  }

  /** Wraps a handler so that every request it serves gets a record, finished when the response ends. */
  record(handler: RequestHandler): RequestHandler {
    return (req, res, url) => {
      const record: UpstreamRequestRecord = {
        seq: ++this.#seq,
        method: req.method ?? 'GET',
        path: `${url.pathname}${url.search}`,
        status: null,
        outcome: 'open',
        receivedAt: Date.now(),
        endedAt: null,
        body: null,
      };
      this.#records.push(record);
      if (this.#records.length > MAX_RECORDS) this.#records.splice(0, this.#records.length - MAX_RECORDS);
      res.once('close', () => {
        record.endedAt = Date.now();
        record.status = res.headersSent ? res.statusCode : null;
        record.body = parsedBody(bodiesRead.get(req));
        record.outcome = res.writableFinished
          ? 'completed'
          : resetByEmulator.has(res)
            ? 'reset'
            : 'cancelled';
      });
      return handler(req, res, url);
    };
  }
}
