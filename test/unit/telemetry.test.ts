import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { sseUpstream } from '../support/sseUpstream';
import { createCallerLabels } from '../../src/lib/telemetry/callerLabels';
import { createGatewayTelemetry } from '../../src/lib/telemetry/gatewayTelemetry';
import { answer, bodyText, chatRequest, harness, type Harness } from '../support/gatewayHarness';

/**
 * Metrics and traces as an operator would receive them: the real OpenTelemetry SDK with an in-memory metric
 * reader and span exporter in place of Azure Monitor, the gateway in process, and a fake Azure OpenAI at the
 * network edge (fetch).
 */

class InMemoryMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  name: string;
  attributes: Attributes;
  /** A counter's sum, or a histogram's count and sum. */
  value: number | { count: number; sum: number };
}

const SERVER = 'unit-test.openai.azure.com';
const DEPLOYMENT = 'gpt-4o-mini';
const genAi = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'azure.ai.openai',
  'gen_ai.request.model': DEPLOYMENT,
  'server.address': SERVER,
  'server.port': 443,
};

function observe() {
  const reader = new InMemoryMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const telemetry = createGatewayTelemetry({
    meter: meterProvider.getMeter('test'),
    tracer: tracerProvider.getTracer('test'),
    serverAddress: SERVER,
  });
  const points = async (): Promise<Point[]> => {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    return flatten(resourceMetrics);
  };
  return { telemetry, spans, points };
}

function flatten(resourceMetrics: ResourceMetrics): Point[] {
  const points: Point[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      for (const point of metric.dataPoints) {
        const value =
          metric.dataPointType === DataPointType.HISTOGRAM
            ? { count: (point.value as { count: number }).count, sum: (point.value as { sum: number }).sum }
            : (point.value as number);
        points.push({ name: metric.descriptor.name, attributes: point.attributes, value });
      }
    }
  }
  return points.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

const sorted = (points: Point[]) =>
  [...points].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** The summary fields of the request's log line, which the metric values must match exactly. */
function summaryOf(h: Harness, index = 0): Record<string, number | string | boolean> {
  const lines = h.logs.filter((line) => line.text.startsWith('request '));
  const line = lines[index];
  if (!line) throw new Error(`no summary line ${String(index)} in ${JSON.stringify(h.logs)}`);
  return JSON.parse(line.text.slice('request '.length).split('\n')[0] ?? '{}') as Record<
    string,
    number | string | boolean
  >;
}

async function finishedSpans(spans: InMemorySpanExporter, count: number): Promise<ReadableSpan[]> {
  for (let i = 0; i < 200 && spans.getFinishedSpans().length < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const finished = spans.getFinishedSpans();
  expect(finished).toHaveLength(count);
  return finished;
}

const completion = (content: string) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
});

const sse = (data: unknown) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const chunk = (content: string) => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, delta: { content }, finish_reason: null, content_filter_results: {} }],
});
const usageChunk = {
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [],
  usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
};

/** Azure OpenAI streaming `events`, one every `everyMs`, with its request id header. */
const streamingUpstream = (events: string[], everyMs = 5): typeof fetch =>
  sseUpstream(
    events.map((text) => ({ afterMs: everyMs, text })),
    [],
    { 'apim-request-id': 'upstream-stream-1' },
  );

const chat = (extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  chatRequest({ messages: [{ role: 'user', content: 'Hello' }], ...extra }, headers);

describe('telemetry of a plain chat completion', () => {
  it('counts the request, records input and output tokens and the upstream duration', async () => {
    const { telemetry, spans, points } = observe();
    const upstream = answer(200, completion('Hi there'), { 'apim-request-id': 'upstream-1' });
    const h = harness(upstream.fetch, { telemetry });
    const response = await h.gateway.chatCompletions(chat(), h.context());
    expect(response.status).toBe(200);
    await finishedSpans(spans, 2);
    const summary = summaryOf(h);

    expect(await points()).toEqual(
      sorted([
        {
          name: 'gateway.requests',
          attributes: {
            'gateway.route': 'chatCompletions',
            'http.response.status_code': 200,
            'gateway.status_class': '2xx',
            'gen_ai.request.model': DEPLOYMENT,
          },
          value: 1,
        },
        {
          name: 'gen_ai.client.token.usage',
          attributes: { ...genAi, 'gen_ai.token.type': 'input', 'gateway.caller': 'abc' },
          value: { count: 1, sum: 12 },
        },
        {
          name: 'gen_ai.client.token.usage',
          attributes: { ...genAi, 'gen_ai.token.type': 'output', 'gateway.caller': 'abc' },
          value: { count: 1, sum: 5 },
        },
        {
          name: 'gen_ai.client.operation.duration',
          attributes: genAi,
          value: { count: 1, sum: Number(summary.upstreamMs) / 1000 },
        },
      ]),
    );
  });

  it('traces the request as one span with the Azure OpenAI call as its child', async () => {
    const { telemetry, spans } = observe();
    const upstream = answer(200, completion('Hi there'), { 'apim-request-id': 'upstream-1' });
    const h = harness(upstream.fetch, { telemetry });
    const response = await h.gateway.chatCompletions(chat(), h.context());
    const [child, parent] = await finishedSpans(spans, 2);

    expect(parent?.name).toBe('chatCompletions');
    expect(parent?.kind).toBe(SpanKind.INTERNAL);
    expect(parent?.status.code).toBe(SpanStatusCode.UNSET);
    expect(parent?.attributes).toEqual({
      'gateway.route': 'chatCompletions',
      'gateway.request_id': response.headers['x-request-id'],
      'http.response.status_code': 200,
      'gateway.caller': 'abc',
      'gen_ai.request.model': DEPLOYMENT,
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 5,
    });
    expect(child?.name).toBe(`chat ${DEPLOYMENT}`);
    expect(child?.kind).toBe(SpanKind.CLIENT);
    expect(child?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(child?.spanContext().traceId).toBe(parent?.spanContext().traceId);
    expect(child?.attributes).toEqual({
      ...genAi,
      'gateway.api_surface': 'chat.completions',
      'http.request.resend_count': 0,
      'gateway.upstream.request_id': 'upstream-1',
      'gen_ai.request.stream': false,
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 5,
    });
  });
});

describe('telemetry of a streamed chat completion', () => {
  const events = [sse(chunk('One')), sse(chunk(' two')), sse(usageChunk), sse('[DONE]')];

  it('records tokens from the usage chunk and the time to the first chunk once the stream ends', async () => {
    const { telemetry, spans, points } = observe();
    const h = harness(streamingUpstream(events), { telemetry });
    const response = await h.gateway.chatCompletions(chat({ stream: true }), h.context());
    await bodyText(response);
    const [child, parent] = await finishedSpans(spans, 2);
    const summary = summaryOf(h);
    expect(summary.firstChunkMs).toBeGreaterThanOrEqual(0);

    expect(await points()).toEqual(
      sorted([
        {
          name: 'gateway.requests',
          attributes: {
            'gateway.route': 'chatCompletions',
            'http.response.status_code': 200,
            'gateway.status_class': '2xx',
            'gen_ai.request.model': DEPLOYMENT,
          },
          value: 1,
        },
        {
          name: 'gen_ai.client.token.usage',
          attributes: { ...genAi, 'gen_ai.token.type': 'input', 'gateway.caller': 'abc' },
          value: { count: 1, sum: 9 },
        },
        {
          name: 'gen_ai.client.token.usage',
          attributes: { ...genAi, 'gen_ai.token.type': 'output', 'gateway.caller': 'abc' },
          value: { count: 1, sum: 3 },
        },
        {
          name: 'gen_ai.client.operation.duration',
          attributes: genAi,
          value: { count: 1, sum: Number(summary.upstreamMs) / 1000 },
        },
        {
          name: 'gen_ai.client.operation.time_to_first_chunk',
          attributes: genAi,
          value: { count: 1, sum: Number(summary.firstChunkMs) / 1000 },
        },
      ]),
    );
    expect(parent?.attributes['gateway.stream.outcome']).toBe('completed');
    expect(child?.attributes).toMatchObject({
      'gen_ai.request.stream': true,
      'gateway.upstream.request_id': 'upstream-stream-1',
      'gen_ai.response.time_to_first_chunk': Number(summary.firstChunkMs) / 1000,
      'gen_ai.usage.input_tokens': 9,
      'gen_ai.usage.output_tokens': 3,
    });
    // NOTE: the stream took at least four upstream intervals; the spans cover it, not just the headers.
    const durationMs = (span: ReadableSpan | undefined) =>
      span ? span.duration[0] * 1000 + span.duration[1] / 1e6 : 0;
    expect(durationMs(parent)).toBeGreaterThanOrEqual(durationMs(child));
    expect(durationMs(child)).toBeGreaterThanOrEqual(15);
  });

  it('counts a stream the caller stopped reading as cancelled', async () => {
    const { telemetry, spans, points } = observe();
    const h = harness(streamingUpstream(events, 20), { telemetry });
    const response = await h.gateway.chatCompletions(chat({ stream: true }), h.context());
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    const [child, parent] = await finishedSpans(spans, 2);
    const summary = summaryOf(h);

    expect(await points()).toEqual(
      sorted([
        {
          name: 'gateway.requests',
          attributes: {
            'gateway.route': 'chatCompletions',
            'http.response.status_code': 200,
            'gateway.status_class': '2xx',
            'gen_ai.request.model': DEPLOYMENT,
          },
          value: 1,
        },
        {
          name: 'gateway.streams.cancelled',
          attributes: { 'gateway.route': 'chatCompletions', 'gen_ai.request.model': DEPLOYMENT },
          value: 1,
        },
        {
          name: 'gen_ai.client.operation.duration',
          attributes: genAi,
          value: { count: 1, sum: Number(summary.upstreamMs) / 1000 },
        },
        {
          name: 'gen_ai.client.operation.time_to_first_chunk',
          attributes: genAi,
          value: { count: 1, sum: Number(summary.firstChunkMs) / 1000 },
        },
      ]),
    );
    expect(parent?.attributes['gateway.stream.outcome']).toBe('cancelled');
    expect(parent?.status.code).toBe(SpanStatusCode.UNSET);
    expect(child?.attributes['gen_ai.usage.output_tokens']).toBeUndefined();
  });
});

describe('telemetry of throttled requests', () => {
  it('counts a request refused by the caller’s own limit, with no upstream span', async () => {
    const { telemetry, spans, points } = observe();
    const upstream = answer(200, completion('Hi'));
    const h = harness(upstream.fetch, { telemetry, env: { LIMIT_REQUESTS_PER_MINUTE: '1' } });
    expect((await h.gateway.chatCompletions(chat(), h.context())).status).toBe(200);
    const limited = await h.gateway.chatCompletions(chat(), h.context());
    expect(limited.status).toBe(429);
    const finished = await finishedSpans(spans, 3);
    const first = summaryOf(h, 0);

    expect(await points()).toEqual(
      sorted([
        {
          name: 'gateway.requests',
          attributes: {
            'gateway.route': 'chatCompletions',
            'http.response.status_code': 200,
            'gateway.status_class': '2xx',
            'gen_ai.request.model': DEPLOYMENT,
          },
          value: 1,
        },
        {
          name: 'gateway.requests',
          attributes: {
            'gateway.route': 'chatCompletions',
            'http.response.status_code': 429,
            'gateway.status_class': '4xx',
            'gen_ai.request.model': DEPLOYMENT,
          },
          value: 1,
        },
        {
          name: 'gateway.requests.throttled',
          attributes: {
            'gateway.route': 'chatCompletions',
            'gateway.throttle.cause': 'caller_limit',
            'gateway.caller': 'abc',
            'gen_ai.request.model': DEPLOYMENT,
          },
          value: 1,
        },
        {
          name: 'gen_ai.client.token.usage',
          attributes: { ...genAi, 'gen_ai.token.type': 'input', 'gateway.caller': 'abc' },
          value: { count: 1, sum: 12 },
        },
        {
          name: 'gen_ai.client.token.usage',
          attributes: { ...genAi, 'gen_ai.token.type': 'output', 'gateway.caller': 'abc' },
          value: { count: 1, sum: 5 },
        },
        {
          name: 'gen_ai.client.operation.duration',
          attributes: genAi,
          value: { count: 1, sum: Number(first.upstreamMs) / 1000 },
        },
      ]),
    );
    const limitedSpan = finished.at(-1);
    expect(limitedSpan?.name).toBe('chatCompletions');
    expect(limitedSpan?.attributes).toEqual({
      'gateway.route': 'chatCompletions',
      'gateway.request_id': limited.headers['x-request-id'],
      'http.response.status_code': 429,
      'gateway.caller': 'abc',
      'gen_ai.request.model': DEPLOYMENT,
      'error.type': 'caller_rate_limited',
    });
    expect(upstream.calls).toHaveLength(1);
  });

  it('counts Azure OpenAI’s 429 as upstream throttling and records the retry on the upstream span', async () => {
    const { telemetry, spans, points } = observe();
    const upstream = answer(
      429,
      { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation have exceeded…' } },
      { 'retry-after-ms': '10', 'retry-after': '1', 'apim-request-id': 'upstream-429' },
    );
    const h = harness(upstream.fetch, { telemetry, env: { UPSTREAM_MAX_RETRIES: '1' } });
    const response = await h.gateway.chatCompletions(chat(), h.context());
    expect(response.status).toBe(429);
    expect(upstream.calls).toHaveLength(2);
    const [child, parent] = await finishedSpans(spans, 2);
    const summary = summaryOf(h);

    expect(await points()).toEqual(
      sorted([
        {
          name: 'gateway.requests',
          attributes: {
            'gateway.route': 'chatCompletions',
            'http.response.status_code': 429,
            'gateway.status_class': '4xx',
            'gen_ai.request.model': DEPLOYMENT,
          },
          value: 1,
        },
        {
          name: 'gateway.requests.throttled',
          attributes: {
            'gateway.route': 'chatCompletions',
            'gateway.throttle.cause': 'upstream_429',
            'gateway.caller': 'abc',
            'gen_ai.request.model': DEPLOYMENT,
          },
          value: 1,
        },
        {
          name: 'gen_ai.client.operation.duration',
          attributes: { ...genAi, 'error.type': 'rate_limited' },
          value: { count: 1, sum: Number(summary.upstreamMs) / 1000 },
        },
      ]),
    );
    expect(parent?.attributes['error.type']).toBe('rate_limited');
    expect(child?.attributes).toEqual({
      ...genAi,
      'gateway.api_surface': 'chat.completions',
      'http.request.resend_count': 1,
      'gen_ai.request.stream': false,
      'error.type': 'rate_limited',
    });
  });
});

describe('telemetry privacy', () => {
  const PROMPT = 'prompt-marker-7f3a: my card number is 4111';
  const COMPLETION = 'completion-marker-91c2: here is your answer';
  const CALLER_TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.token-marker-55d1.signature';
  const OBJECT_ID = '0f0e0d0c-object-id-marker';

  const values = (value: unknown): string[] =>
    Array.isArray(value)
      ? value.flatMap(values)
      : value === undefined
        ? []
        : [typeof value === 'string' ? value : JSON.stringify(value)];
  const attributeTexts = (attributes: Attributes): string[] =>
    Object.entries(attributes).flatMap(([key, value]) => [key, ...values(value)]);

  it('puts no prompt, completion, token or caller identity into any span or metric attribute', async () => {
    const { telemetry, spans, points } = observe();
    let call = 0;
    const upstream: typeof fetch = (input, init) => {
      call++;
      return call === 1
        ? answer(200, completion(COMPLETION), { 'apim-request-id': 'upstream-1' }).fetch(input, init)
        : streamingUpstream([sse(chunk(COMPLETION)), sse(usageChunk), sse('[DONE]')])(input, init);
    };
    const h = harness(upstream, {
      telemetry,
      authenticate: () =>
        Promise.resolve({
          key: `tenant/${OBJECT_ID}`,
          hash: 'c0ffee000001',
          objectId: OBJECT_ID,
          tenantId: 'tenant',
          anonymous: false,
        }),
    });
    const headers = { authorization: `Bearer ${CALLER_TOKEN}` };
    const plain = await h.gateway.chatCompletions(
      chatRequest({ messages: [{ role: 'user', content: PROMPT }] }, headers),
      h.context(),
    );
    expect(await bodyText(plain)).toContain(COMPLETION);
    const streamed = await h.gateway.chatCompletions(
      chatRequest({ messages: [{ role: 'user', content: PROMPT }], stream: true }, headers),
      h.context(),
    );
    expect(await bodyText(streamed)).toContain(COMPLETION);
    const finished = await finishedSpans(spans, 4);

    const texts = [
      ...finished.flatMap((span) => [
        span.name,
        ...attributeTexts(span.attributes),
        ...attributeTexts(span.resource.attributes),
        ...span.events.flatMap((event) => [event.name, ...attributeTexts(event.attributes ?? {})]),
      ]),
      ...(await points()).flatMap((point) => [point.name, ...attributeTexts(point.attributes)]),
    ];
    expect(texts.length).toBeGreaterThan(40);
    for (const secret of [
      PROMPT,
      'prompt-marker',
      COMPLETION,
      'completion-marker',
      'token-marker',
      OBJECT_ID,
    ]) {
      expect(texts.filter((text) => text.includes(secret))).toEqual([]);
    }
    expect(texts).toContain('c0ffee000001');
  });
});

describe('the caller dimension', () => {
  it('keeps the first callers by their hash and folds the rest into one label', () => {
    const label = createCallerLabels({ limit: 2, now: () => 0 });
    expect([label('a'), label('b'), label('c'), label('a'), label(undefined)]).toEqual([
      'a',
      'b',
      'other',
      'a',
      'none',
    ]);
  });

  it('admits new callers again once the twelve-hour window has turned', () => {
    let now = 0;
    const label = createCallerLabels({ limit: 1, now: () => now });
    expect([label('a'), label('b')]).toEqual(['a', 'other']);
    now = 12 * 60 * 60 * 1000;
    expect([label('b'), label('a')]).toEqual(['b', 'other']);
  });
});
