import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type {
  RpcHttpData,
  RpcInvocationRequest,
  RpcNullableString,
  RpcTypedData,
} from './functionsCoreTypes';
import type { HttpFunction } from './toHttpFunction';

export interface InvocationRequestInit {
  invocationId: string;
  fn: HttpFunction;
  method: string;
  /** The request URL as the client addressed the host. */
  url: URL;
  headers: IncomingHttpHeaders;
  params: Record<string, string>;
  /** The whole request body, for the buffered path; omitted when the body streams through the proxy. */
  body?: Buffer | undefined;
}

function toNullable(values: Record<string, string>): Record<string, RpcNullableString> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, { value }]));
}

/** Request headers as one string each, the way ASP.NET hands them to the worker. */
export function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) {
      continue;
    }
    const joined = Array.isArray(value) ? value.join(', ') : value;
    // NOTE: the worker declares IgnoreEmptyValuedRpcHttpHeaders, so the host drops empty values.
    if (joined !== '') {
      flat[name] = joined;
    }
  }
  return flat;
}

function queryOf(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) {
    query[key] = url.searchParams.getAll(key).join(',');
  }
  return query;
}

function traceParentOf(headers: IncomingHttpHeaders): string {
  const incoming = headers.traceparent;
  if (typeof incoming === 'string' && /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/.test(incoming)) {
    return incoming;
  }
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`;
}

/**
 * Builds the invocation request the host sends the worker for an HTTP trigger: the request as
 * `RpcHttpData` in `inputData`, route values, `Query` and `Headers` in `triggerMetadata` (the streaming
 * path reads its headers and params from there), and a W3C trace context.
 */
export function toInvocationRequest(init: InvocationRequestInit): RpcInvocationRequest {
  const headers = flattenHeaders(init.headers);
  const query = queryOf(init.url);
  const http: RpcHttpData = {
    method: init.method,
    url: init.url.href,
    nullableHeaders: toNullable(headers),
    nullableQuery: toNullable(query),
    nullableParams: toNullable(init.params),
  };
  if (init.body && init.body.length > 0) {
    http.body = { bytes: init.body };
  }
  const triggerMetadata: Record<string, RpcTypedData> = {};
  for (const [name, value] of Object.entries(init.params)) {
    triggerMetadata[name] = { string: value };
  }
  triggerMetadata.Query = { json: JSON.stringify(query) };
  triggerMetadata.Headers = { json: JSON.stringify(headers) };
  return {
    invocationId: init.invocationId,
    functionId: init.fn.registration.metadata.functionId,
    inputData: [{ name: init.fn.triggerBindingName, data: { http } }],
    triggerMetadata,
    traceContext: {
      traceParent: traceParentOf(init.headers),
      traceState: typeof init.headers.tracestate === 'string' ? init.headers.tracestate : '',
      attributes: { OperationName: init.fn.name },
    },
  };
}
