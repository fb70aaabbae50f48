import { ExportResultCode } from '@opentelemetry/core';
import { AzureOpenAI } from 'openai';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createCallerLimiter } from '../src/lib/caller/callerLimits';
import { loadConfig } from '../src/lib/config';
import { createGateway, type Gateway } from '../src/lib/gateway';
import type { GatewayRequest, Logger } from '../src/lib/http';
import { createGatewayTelemetry } from '../src/lib/telemetry/gatewayTelemetry';
import type { RequestTelemetry } from '../src/lib/telemetry/requestTelemetry';
import { budgetAwareFetch } from '../src/lib/upstream/openaiClient';
import { median, round } from './stats';

/**
 * What telemetry costs the worker per request: the gateway's chat handler in this process, against an
 * upstream that answers at once (so only the worker's own work is timed), with telemetry off and on in
 * alternating rounds. "On" is the real OpenTelemetry SDK as the app configures it (every request traced,
 * batched span export, periodic metric export) with exporters that discard, since this machine cannot reach
 * Azure Monitor: converting and sending a batch happens off the request path, every 5 s for spans and every
 * 60 s for metrics.
 *
 *   npx tsx bench/telemetryOverhead.ts [requests per round, default 250]
 */

export interface TelemetryOverhead {
  requestsPerRound: number;
  rounds: number;
  /** Median over rounds of the mean handler latency, µs. */
  latencyOffMicros: number;
  latencyOnMicros: number;
  /** Median over rounds of the process CPU time per request (user + system), µs. */
  cpuOffMicros: number;
  cpuOnMicros: number;
  /** Median of each round pair's difference (on − off): robust to the machine's load drifting. */
  latencyAddedMicros: number;
  cpuAddedMicros: number;
  /** CPU time of recording one request's metrics and spans on its own, µs: what the noise above hides. */
  recordCpuMicros: number;
  spansExported: number;
}

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

const env = {
  AZURE_OPENAI_ENDPOINT: 'https://bench.openai.azure.com',
  AZURE_OPENAI_DEPLOYMENT: 'gpt-4o-mini',
  AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555',
  AZURE_RESOURCE_GROUP: 'rg-bench',
  AZURE_OPENAI_ACCOUNT_NAME: 'aoai-bench',
  AZURE_LOCATION: 'eastus2',
  AUTH_MODE: 'anonymous',
  UPSTREAM_MAX_RETRIES: '0',
  LIMIT_REQUESTS_PER_MINUTE: '0',
  LIMIT_TOKENS_PER_MINUTE: '0',
};

const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [
    { index: 0, message: { role: 'assistant', content: 'Benchmark answer.' }, finish_reason: 'stop' },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 },
});

const upstream: typeof fetch = () =>
  Promise.resolve(
    new Response(completion, {
      status: 200,
      headers: { 'content-type': 'application/json', 'apim-request-id': 'bench' },
    }),
  );

function gateway(telemetry: RequestTelemetry | undefined): Gateway {
  const config = loadConfig(env);
  return createGateway({
    config,
    openai: new AzureOpenAI({
      endpoint: config.openai.endpoint,
      apiVersion: config.openai.apiVersion,
      azureADTokenProvider: () => Promise.resolve('bench-token'),
      maxRetries: 0,
      fetch: budgetAwareFetch(upstream),
    }),
    catalog: { deployments: () => Promise.resolve([]), region: () => Promise.resolve([]) },
    authenticate: () =>
      Promise.resolve({
        key: 'bench',
        hash: 'b0b0b0b0b0b0',
        objectId: undefined,
        tenantId: undefined,
        anonymous: true,
      }),
    limiter: createCallerLimiter(config.limits),
    credentialDescription: 'bench',
    lateLog: silent,
    telemetry,
  });
}

function telemetryOn(): { telemetry: RequestTelemetry; spans: () => number; shutdown: () => Promise<void> } {
  let spans = 0;
  const spanExporter: SpanExporter = {
    export: (batch, done) => {
      spans += batch.length;
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: () => Promise.resolve(),
  };
  const metricExporter: PushMetricExporter = {
    export: (_metrics, done) => {
      done({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spanExporter)] });
  const meterProvider = new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 })],
  });
  return {
    telemetry: createGatewayTelemetry({
      meter: meterProvider.getMeter('bench'),
      tracer: tracerProvider.getTracer('bench'),
      serverAddress: 'bench.openai.azure.com',
    }),
    spans: () => spans,
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

const body = JSON.stringify({ messages: [{ role: 'user', content: 'Benchmark request' }], max_tokens: 16 });
const request = (): GatewayRequest => ({
  method: 'POST',
  url: 'http://127.0.0.1/api/chat/completions',
  headers: new Headers({ 'content-type': 'application/json' }),
  query: new URLSearchParams(),
  params: {},
  body: new Blob([body]).stream(),
});

async function round_(handler: Gateway, requests: number): Promise<{ latency: number; cpu: number }> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const response = await handler.chatCompletions(request(), silent);
    if (response.status !== 200) throw new Error(`benchmark request answered ${String(response.status)}`);
  }
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { latency: (elapsed * 1000) / requests, cpu: (cpu.user + cpu.system) / requests };
}

/** Median over rounds of the CPU time per `record()` of a plain chat's summary, µs. */
async function recordCost(telemetry: RequestTelemetry, rounds = 10, perRound = 2_000): Promise<number> {
  const summary = {
    function: 'chatCompletions',
    requestId: '6f1c2d3e-0000-4000-8000-000000000000',
    status: 200,
    deployment: 'gpt-4o-mini',
    streamed: false,
    promptTokens: 12,
    completionTokens: 4,
    upstreamRequestId: 'bench',
    retries: 0,
    upstreamMs: 3,
    caller: 'b0b0b0b0b0b0',
  };
  const costs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < perRound; i++) {
      const now = performance.now();
      telemetry.record({ summary, startedAt: now - 4, endedAt: now });
    }
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.cpuUsage(before);
    costs.push((used.user + used.system) / perRound);
  }
  return round(median(costs), 1);
}

export async function measureTelemetryOverhead(
  requestsPerRound = 250,
  rounds = 40,
): Promise<TelemetryOverhead> {
  const on = telemetryOn();
  const gateways = { off: gateway(undefined), on: gateway(on.telemetry) };
  // NOTE: a warm-up round each, so both paths are compiled before anything is timed.
  await round_(gateways.off, 200);
  await round_(gateways.on, 200);
  const off: { latency: number; cpu: number }[] = [];
  const withTelemetry: { latency: number; cpu: number }[] = [];
  // NOTE: the order flips every round so that neither side always runs on a warmer or cooler process.
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      off.push(await round_(gateways.off, requestsPerRound));
      withTelemetry.push(await round_(gateways.on, requestsPerRound));
    } else {
      withTelemetry.push(await round_(gateways.on, requestsPerRound));
      off.push(await round_(gateways.off, requestsPerRound));
    }
  }
  const recordCpuMicros = await recordCost(on.telemetry);
  await on.shutdown();
  return {
    requestsPerRound,
    rounds,
    latencyOffMicros: round(median(off.map((r) => r.latency)), 1),
    latencyOnMicros: round(median(withTelemetry.map((r) => r.latency)), 1),
    cpuOffMicros: round(median(off.map((r) => r.cpu)), 1),
    cpuOnMicros: round(median(withTelemetry.map((r) => r.cpu)), 1),
    latencyAddedMicros: round(median(withTelemetry.map((r, i) => r.latency - (off[i]?.latency ?? 0))), 1),
    cpuAddedMicros: round(median(withTelemetry.map((r, i) => r.cpu - (off[i]?.cpu ?? 0))), 1),
    recordCpuMicros,
    spansExported: on.spans(),
  };
}

export function renderTelemetryOverhead(result: TelemetryOverhead): string {
  const share = (added: number, off: number) => `${String(round((added / off) * 100, 1))} %`;
  return [
    `Telemetry overhead, worker side (${String(result.rounds)} alternating rounds of ${String(result.requestsPerRound)} chat requests, instant upstream):`,
    `  handler latency  off ${String(result.latencyOffMicros)} µs, on ${String(result.latencyOnMicros)} µs; added per request (median of pairs) ${String(result.latencyAddedMicros)} µs (${share(result.latencyAddedMicros, result.latencyOffMicros)})`,
    `  CPU per request  off ${String(result.cpuOffMicros)} µs, on ${String(result.cpuOnMicros)} µs; added per request (median of pairs) ${String(result.cpuAddedMicros)} µs (${share(result.cpuAddedMicros, result.cpuOffMicros)})`,
    `  record() alone   ${String(result.recordCpuMicros)} µs CPU per request`,
    `  spans exported   ${String(result.spansExported)}`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const requests = Number(process.argv[2] ?? '250');
  measureTelemetryOverhead(requests)
    .then((result) => {
      process.stdout.write(`${renderTelemetryOverhead(result)}\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    });
}
