import { randomUUID } from 'node:crypto';
import { InvalidInputError, isRecord } from './http-util';
import { rateLimitedBody } from './rate-limits';

export type FaultTarget = 'openai' | 'arm' | 'identity';

/** Answer requests to `target` with `status` and an Azure-like body, `count` times (default: until cleared). */
export interface StatusFault {
  kind: 'status';
  target: FaultTarget;
  status: number;
  count?: number;
  /** Sent as retry-after (and retry-after-ms on the data plane) with 429 and 503. Default 1. */
  retryAfterSeconds?: number;
}

/** Data plane: wait before the first byte, and between streamed content chunks. */
export interface LatencyFault {
  kind: 'latency';
  firstTokenMs?: number;
  perTokenMs?: number;
}

/** Destroy the socket after this many SSE events. */
export interface ResetFault {
  kind: 'reset';
  afterChunks: number;
}

/** Stop sending after this many SSE events but keep the connection open. */
export interface StallFault {
  kind: 'stall';
  afterChunks: number;
}

export type Fault = StatusFault | LatencyFault | ResetFault | StallFault;
export type StreamBreak = ResetFault | StallFault;

const faultTargets: readonly FaultTarget[] = ['openai', 'arm', 'identity'];

function nonNegativeNumber(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidInputError(`${name} must be a non-negative number`);
  }
  return value;
}

function nonNegativeInteger(value: unknown, name: string): number {
  const parsed = nonNegativeNumber(value, name);
  if (parsed === undefined || !Number.isInteger(parsed))
    throw new InvalidInputError(`${name} must be a non-negative integer`);
  return parsed;
}

/** Checks a fault that arrived as JSON (admin endpoint) or from untyped code. */
export function parseFault(value: unknown): Fault {
  if (!isRecord(value)) throw new InvalidInputError('fault must be an object');
  switch (value.kind) {
    case 'status': {
      const target = value.target;
      if (typeof target !== 'string' || !faultTargets.includes(target as FaultTarget)) {
        throw new InvalidInputError(`target must be one of ${faultTargets.join(', ')}`);
      }
      const status = nonNegativeInteger(value.status, 'status');
      if (status < 400 || status > 599) throw new InvalidInputError('status must be between 400 and 599');
      const count = value.count === undefined ? undefined : nonNegativeInteger(value.count, 'count');
      const retryAfterSeconds = nonNegativeNumber(value.retryAfterSeconds, 'retryAfterSeconds');
      return {
        kind: 'status',
        target: target as FaultTarget,
        status,
        ...(count === undefined ? {} : { count }),
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      };
    }
    case 'latency': {
      const firstTokenMs = nonNegativeNumber(value.firstTokenMs, 'firstTokenMs');
      const perTokenMs = nonNegativeNumber(value.perTokenMs, 'perTokenMs');
      return {
        kind: 'latency',
        ...(firstTokenMs === undefined ? {} : { firstTokenMs }),
        ...(perTokenMs === undefined ? {} : { perTokenMs }),
      };
    }
    case 'reset':
    case 'stall':
      return { kind: value.kind, afterChunks: nonNegativeInteger(value.afterChunks, 'afterChunks') };
    default:
      throw new InvalidInputError('kind must be status, latency, reset or stall');
  }
}

/**
 * Active faults. One status fault per target, one latency setting, one stream break; setting another of
 * the same sort replaces it.
 */
export class FaultStore {
  private readonly statusFaults = new Map<FaultTarget, StatusFault & { remaining: number }>();
  private latencyFault: LatencyFault | undefined;
  private streamBreakFault: StreamBreak | undefined;

  set(fault: Fault): void {
    switch (fault.kind) {
      case 'status':
        this.statusFaults.set(fault.target, { ...fault, remaining: fault.count ?? Number.POSITIVE_INFINITY });
        break;
      case 'latency':
        this.latencyFault = fault;
        break;
      case 'reset':
      case 'stall':
        this.streamBreakFault = fault;
        break;
    }
  }

  clear(): void {
    this.statusFaults.clear();
    this.latencyFault = undefined;
    this.streamBreakFault = undefined;
  }

  /** The status fault for this request, if one is active; each call uses up one of its `count`. */
  takeStatus(target: FaultTarget): StatusFault | undefined {
    const fault = this.statusFaults.get(target);
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.statusFaults.delete(target);
    return fault;
  }

  latency(): { firstTokenMs: number; perTokenMs: number } {
    return {
      firstTokenMs: this.latencyFault?.firstTokenMs ?? 0,
      perTokenMs: this.latencyFault?.perTokenMs ?? 0,
    };
  }

  streamBreak(): StreamBreak | undefined {
    return this.streamBreakFault;
  }
}

const reasonPhrases: Record<number, [code: string, message: string]> = {
  400: ['BadRequest', 'The request is invalid.'],
  401: ['Unauthorized', 'The request is not authorized.'],
  403: ['Forbidden', 'The request is forbidden.'],
  404: ['NotFound', 'The requested resource was not found.'],
  408: ['RequestTimeout', 'The operation timed out.'],
  409: ['Conflict', 'The request conflicts with the current state of the resource.'],
  429: ['TooManyRequests', 'Too many requests. Please retry after the time given in the Retry-After header.'],
  500: [
    'InternalServerError',
    'The server had an error processing your request. Sorry about that! You can retry your request, or contact us through an Azure support request if you keep seeing this error.',
  ],
  502: ['BadGateway', 'The gateway received an invalid response from the upstream server.'],
  503: [
    'ServiceUnavailable',
    'The service is temporarily unable to process your request. Please try again later.',
  ],
  504: ['GatewayTimeout', 'The operation timed out.'],
};

function reasonPhrase(status: number): [string, string] {
  return reasonPhrases[status] ?? [String(status), `Injected failure with status ${status}.`];
}

/** The body and headers each service sends with an injected status, in that service's own error shape. */
export function statusFaultResponse(
  fault: StatusFault,
  apiVersion?: string,
): { body: unknown; headers: Record<string, string> } {
  const [code, message] = reasonPhrase(fault.status);
  const headers: Record<string, string> = {};
  if (fault.status === 429 || fault.status === 503) {
    const seconds = fault.retryAfterSeconds ?? 1;
    headers['retry-after'] = String(Math.ceil(seconds));
    if (fault.target === 'openai') headers['retry-after-ms'] = String(Math.round(seconds * 1000));
  }
  switch (fault.target) {
    case 'openai':
      return {
        headers,
        body:
          fault.status === 429
            ? rateLimitedBody(apiVersion ?? 'v1', 'tokens', Number(headers['retry-after']))
            : { error: { code, message } },
      };
    case 'arm':
      return { headers, body: { error: { code, message } } };
    case 'identity':
      return { headers, body: { statusCode: fault.status, message, correlationId: randomUUID() } };
  }
}
