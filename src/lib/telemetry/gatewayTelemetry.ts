import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Meter,
  type Tracer,
} from '@opentelemetry/api';
import { createCallerLabels, type CallerLabel } from './callerLabels';
import type { RequestRecord, RequestTelemetry } from './requestTelemetry';

/**
 * Turns each finished request's summary into metrics and one trace: a span for the request and, when Azure
 * OpenAI was called, a child span for that call. Names and attributes follow the OpenTelemetry GenAI
 * semantic conventions where one exists (docs/gen-ai/gen-ai-metrics.md and gen-ai-spans.md in
 * open-telemetry/semantic-conventions-genai); the gateway's own carry the `gateway.` prefix.
 *
 * Only the summary is read, and the summary holds no content: no prompt, completion or token text can reach
 * an attribute from here.
 */

/** `gen_ai.provider.name` for Azure OpenAI, as the conventions list it. */
const PROVIDER = 'azure.ai.openai';
const OPERATION = 'chat';

/** Bucket boundaries the conventions recommend (Azure Monitor keeps only sum, count, min and max). */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];
const SECONDS_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** Which upstream API a route calls. */
const API_SURFACE: Readonly<Record<string, string>> = {
  chatCompletions: 'chat.completions',
  health: 'chat.completions',
};

/** 429s the gateway's own caller limits answer; every other 429 passes on Azure's. */
const UPSTREAM_RATE_LIMITED = 'rate_limited';

export interface GatewayTelemetryOptions {
  meter: Meter;
  tracer: Tracer;
  /** Host name of the Azure OpenAI endpoint (`server.address`). */
  serverAddress?: string | undefined;
  /** Bounds the caller dimension of metrics; see callerLabels.ts. */
  callerLabel?: CallerLabel;
}

export function createGatewayTelemetry(options: GatewayTelemetryOptions): RequestTelemetry {
  const { meter, tracer } = options;
  const callerLabel = options.callerLabel ?? createCallerLabels();
  const server: Attributes = options.serverAddress
    ? { 'server.address': options.serverAddress, 'server.port': 443 }
    : {};

  const tokenUsage = meter.createHistogram('gen_ai.client.token.usage', {
    description: 'Number of input and output tokens used.',
    unit: '{token}',
    advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
  });
  const operationDuration = meter.createHistogram('gen_ai.client.operation.duration', {
    description: 'Duration of the Azure OpenAI call, to the end of its stream when streamed.',
    unit: 's',
    advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
  });
  const timeToFirstChunk = meter.createHistogram('gen_ai.client.operation.time_to_first_chunk', {
    description: 'Time from issuing a streamed request to Azure OpenAI to its first chunk.',
    unit: 's',
    advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
  });
  const requests = meter.createCounter('gateway.requests', {
    description: 'Requests answered, by route and status.',
    unit: '{request}',
  });
  const throttled = meter.createCounter('gateway.requests.throttled', {
    description: 'Requests answered 429, by cause: the caller’s own limit or Azure OpenAI’s.',
    unit: '{request}',
  });
  const cancelled = meter.createCounter('gateway.streams.cancelled', {
    description: 'Streamed answers the caller stopped reading before they ended.',
    unit: '{stream}',
  });

  const record = ({ summary, startedAt, endedAt, stream }: RequestRecord): void => {
    const status = summary.status ?? 0;
    const route = summary.function;
    const deployment = summary.deployment;
    const model: Attributes = deployment === undefined ? {} : { 'gen_ai.request.model': deployment };
    const genAi: Attributes = {
      'gen_ai.operation.name': OPERATION,
      'gen_ai.provider.name': PROVIDER,
      ...model,
      ...server,
    };
    const error: Attributes = summary.error === undefined ? {} : { 'error.type': summary.error };

    requests.add(1, {
      'gateway.route': route,
      'http.response.status_code': status,
      'gateway.status_class': `${Math.floor(status / 100)}xx`,
      ...model,
    });
    if (status === 429) {
      throttled.add(1, {
        'gateway.route': route,
        'gateway.throttle.cause': summary.error === UPSTREAM_RATE_LIMITED ? 'upstream_429' : 'caller_limit',
        'gateway.caller': callerLabel(summary.caller),
        ...model,
      });
    }
    if (stream === 'cancelled') cancelled.add(1, { 'gateway.route': route, ...model });

    const usage: Attributes = {};
    if (summary.promptTokens !== undefined) {
      usage['gen_ai.usage.input_tokens'] = summary.promptTokens;
      tokenUsage.record(summary.promptTokens, {
        ...genAi,
        'gen_ai.token.type': 'input',
        'gateway.caller': callerLabel(summary.caller),
      });
    }
    if (summary.completionTokens !== undefined) {
      usage['gen_ai.usage.output_tokens'] = summary.completionTokens;
      tokenUsage.record(summary.completionTokens, {
        ...genAi,
        'gen_ai.token.type': 'output',
        'gateway.caller': callerLabel(summary.caller),
      });
    }
    const calledUpstream = summary.upstreamMs !== undefined;
    if (calledUpstream) operationDuration.record((summary.upstreamMs ?? 0) / 1000, { ...genAi, ...error });
    if (summary.firstChunkMs !== undefined) timeToFirstChunk.record(summary.firstChunkMs / 1000, genAi);

    // NOTE: a caller's 4xx is the caller's problem, not the gateway's; a stream that broke after its 200 is.
    const failed = status >= 500 || (status < 400 && summary.error !== undefined);
    const span = tracer.startSpan(
      route,
      {
        kind: SpanKind.INTERNAL,
        startTime: startedAt,
        attributes: {
          'gateway.route': route,
          'gateway.request_id': summary.requestId,
          'http.response.status_code': status,
          ...(summary.caller === undefined ? {} : { 'gateway.caller': summary.caller }),
          ...(stream === undefined ? {} : { 'gateway.stream.outcome': stream }),
          ...model,
          ...usage,
          ...error,
        },
      },
      context.active(),
    );
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
    if (calledUpstream) {
      const upstreamStart = Math.max(startedAt, endedAt - (summary.upstreamMs ?? 0));
      const child = tracer.startSpan(
        `${OPERATION} ${deployment ?? ''}`.trim(),
        {
          kind: SpanKind.CLIENT,
          startTime: upstreamStart,
          attributes: {
            ...genAi,
            'gateway.api_surface': API_SURFACE[route] ?? route,
            'http.request.resend_count': summary.retries ?? 0,
            ...(summary.upstreamRequestId
              ? { 'gateway.upstream.request_id': summary.upstreamRequestId }
              : {}),
            ...(summary.streamed === undefined ? {} : { 'gen_ai.request.stream': summary.streamed }),
            ...(summary.firstChunkMs === undefined
              ? {}
              : { 'gen_ai.response.time_to_first_chunk': summary.firstChunkMs / 1000 }),
            ...usage,
            ...error,
          },
        },
        trace.setSpan(context.active(), span),
      );
      if (failed) child.setStatus({ code: SpanStatusCode.ERROR });
      child.end(endedAt);
    }
    span.end(endedAt);
  };

  return {
    record(request) {
      try {
        record(request);
      } catch {
        // NOTE: telemetry must never change an answer; a broken exporter shows in its own diagnostics.
      }
    },
  };
}
