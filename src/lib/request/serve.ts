import { randomUUID } from 'node:crypto';
import type { Caller } from '../caller/callerAuth';
import type { ChatSummary } from '../chat/completeChat';
import { ApiError } from '../errors';
import {
  EXPOSED_HEADERS,
  jsonResponse,
  type GatewayRequest,
  type GatewayResponse,
  type Logger,
} from '../http';
import type { RequestTelemetry } from '../telemetry/requestTelemetry';
import type { RelayOutcome } from '../upstream/sseRelay';
import { toApiError } from '../upstream/upstreamError';

/** What one request's summary log line carries (never content, never tokens). */
export interface Summary extends ChatSummary {
  function: string;
  requestId: string;
  status?: number;
  durationMs?: number;
  caller?: string;
  error?: string;
}

/** One request as a route sees it. Wrappers such as `requireCaller` fill in `caller`. */
export interface Call {
  request: GatewayRequest;
  summary: Summary;
  caller?: Caller;
}

/** What a route answers: the response and, for a stream, a promise that settles when the stream has ended. */
export interface Served {
  response: GatewayResponse;
  streamDone?: Promise<RelayOutcome> | undefined;
}

export type Route<C extends Call = Call> = (call: C) => Promise<Served>;

/** The shape a Functions handler has once the request is wrapped: `(request, logger) → response`. */
export type Handler = (request: GatewayRequest, log: Logger) => Promise<GatewayResponse>;

export interface ServeOptions {
  /** Written once, on the first request: which credential and caller authentication are in use. */
  announce: (log: Logger) => void;
  /**
   * Where a streamed request's summary goes once its stream ends. The invocation context is finished by then
   * (the Functions library warns about late calls), so the process log takes the line. Default: console.
   */
  lateLog?: Logger | undefined;
  /** Metrics and traces from each finished request's summary; absent when telemetry is not configured. */
  telemetry?: RequestTelemetry | undefined;
}

/**
 * The outermost wrapper of every route: a request id, the exposed headers, one error shape for anything
 * thrown, and one summary log line per request (after the stream for streamed answers).
 */
export function makeServe(options: ServeOptions): (name: string, route: Route) => Handler {
  let announced = false;
  return (name, route) => async (request, log) => {
    if (!announced) {
      announced = true;
      options.announce(log);
    }
    const started = performance.now();
    const summary: Summary = { function: name, requestId: randomUUID() };
    let served: Served;
    let failure: ApiError | undefined;
    let cause: unknown;
    try {
      served = await route({ request, summary });
    } catch (error) {
      cause = error;
      failure = toApiError(error, { deployment: summary.deployment ?? '' });
      summary.error = failure.code;
      served = { response: jsonResponse(failure.status, failure.toBody(), failure.headers) };
    }
    const { response, streamDone } = served;
    response.headers['x-request-id'] = summary.requestId;
    response.headers['access-control-expose-headers'] = EXPOSED_HEADERS;
    summary.status = response.status;
    if (streamDone) {
      void streamDone.then((outcome) => {
        summary.durationMs = Math.round(performance.now() - started);
        if (outcome.error) summary.error = outcome.error.code;
        logSummary(options.lateLog ?? console, summary, outcome.error, undefined);
        const endedAt = performance.now();
        options.telemetry?.record({ summary, startedAt: started, endedAt, stream: outcome.outcome });
      });
    } else {
      summary.durationMs = Math.round(performance.now() - started);
      logSummary(log, summary, failure, cause);
      options.telemetry?.record({ summary, startedAt: started, endedAt: performance.now() });
    }
    return response;
  };
}

function logSummary(log: Logger, summary: Summary, error: ApiError | undefined, cause: unknown): void {
  const line = `request ${JSON.stringify(summary)}`;
  if (!error || error.status < 400) log.info(line);
  else if (error.status >= 500 && error.status !== 503) {
    log.error(line, error.logDetail ?? '', error.status === 500 ? describeUnexpected(cause) : '');
  } else log.warn(line, error.logDetail ?? '');
}

// NOTE: unexpected errors are logged by name and stack only; their messages may quote request data.
function describeUnexpected(error: unknown): string {
  if (!(error instanceof Error) || error instanceof ApiError) return '';
  return `${error.name}\n${(error.stack ?? '').split('\n').slice(1, 8).join('\n')}`;
}
