import type { Summary } from '../request/serve';
import type { RelayOutcome } from '../upstream/sseRelay';

/**
 * The request path's only contact with telemetry: once a request has ended (after its stream, for a streamed
 * answer), the request wrapper hands over the summary it already keeps for the log line. Nothing here loads
 * OpenTelemetry; the implementation lives in a chunk that is loaded only when telemetry is configured.
 */

export interface RequestRecord {
  summary: Readonly<Summary>;
  /** `performance.now()` when the wrapper received the request. */
  startedAt: number;
  /** `performance.now()` when the response, or its stream, ended. */
  endedAt: number;
  /** How a streamed answer ended; absent for answers that were not streamed. */
  stream?: RelayOutcome['outcome'];
}

export interface RequestTelemetry {
  /** Must not throw: telemetry never changes a response. */
  record(request: RequestRecord): void;
}
