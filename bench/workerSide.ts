import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OpenAI } from 'openai';
import { chatBatch, type ChatLoad } from './load';
import { holdStreams, readRssBytes } from './memory';
import type { BenchSection } from './section';
import { added, compare, requireNoErrors, streamRequests, type Stage } from './stage';
import { median, round } from './stats';
import { alternating, timeOkStream } from './streaming';

/**
 * Worker-side overhead: what runs in the Functions worker in Azure (the library's HTTP proxy and the
 * gateway), measured by sending requests to the library's proxy the way the Functions host does, against
 * calling Azure OpenAI (the emulator) directly. The worker runs alone in a process (bench/workerProcess.ts);
 * the local host's own front server is not in the path. Each comparison alternates direct and worker in
 * one phase with the same client: the openai SDK for latency and throughput, fetch for streams.
 */

const STREAM_TIMEOUT_MS = 60_000;
/** RSS samples taken while every stream is open, 20 ms apart. */
const MEMORY_SAMPLES = 25;

export interface WorkerResults {
  /** Added p50 / p99 at the run's concurrency, and requests per second through the worker over direct. */
  p50_ms: number;
  p99_ms: number;
  throughput_ratio: number;
  /** Median time to the first streamed byte through the worker minus direct. */
  ttfb_added_ms: number;
  /** (median RSS of the worker process while all streams are open − RSS before) / streams. */
  rss_per_stream_kb: number;
  concurrency: number;
  loaded: ReturnType<typeof added>;
  sequential: ReturnType<typeof added>;
  ttfb_direct_ms: number;
  ttfb_worker_ms: number;
  streams: number;
  memory: { streams: number; rss_baseline_mb: number; rss_open_mb: number; samples: number };
}

interface WorkerProcess {
  port: number;
  pid: number;
  close(): Promise<void>;
}

/** Starts bench/workerProcess.ts on the deploy package with the app's environment. */
export async function spawnWorker(
  appRoot: string,
  env: Record<string, string>,
  nodeArguments: readonly string[] = [],
): Promise<WorkerProcess> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const script = fileURLToPath(new URL('./workerProcess.ts', import.meta.url));
  const child = spawn(process.execPath, [...nodeArguments, '--import', tsx, script, appRoot], {
    cwd: appRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the worker did not start:\n${output}`));
    }, 30_000);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      output += text;
      const match = /worker proxy on (\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the worker exited before it listened:\n${output}`));
    });
  });
  return {
    port,
    pid: child.pid ?? -1,
    close: async () => {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

/** The headers the Functions host adds to every request it sends the library's proxy. */
export function hostHeaders(port: number): Record<string, string> {
  return {
    'x-ms-invocation-id': randomUUID(),
    'x-forwarded-host': `127.0.0.1:${port}`,
    'x-forwarded-proto': 'http',
  };
}

/** An OpenAI client whose requests reach the worker's proxy as the Functions host sends them. */
export function workerClient(port: number, callerToken: string): OpenAI {
  const hostFetch: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    for (const [name, value] of Object.entries(hostHeaders(port))) headers.set(name, value);
    return fetch(input, { ...init, headers });
  };
  return new OpenAI({
    baseURL: `http://127.0.0.1:${port}/api`,
    apiKey: callerToken,
    maxRetries: 0,
    timeout: 30_000,
    fetch: hostFetch,
  });
}

async function measure(stage: Stage, worker: WorkerProcess): Promise<WorkerResults> {
  const { options, emulator } = stage;
  const load: ChatLoad = { model: emulator.deployment, maxTokens: options.maxTokens };
  const client = workerClient(worker.port, stage.callerToken);
  const paths = {
    direct: (count: number, concurrency: number, offset: number) =>
      chatBatch(stage.direct, load, count, concurrency, offset),
    gateway: (count: number, concurrency: number, offset: number) =>
      chatBatch(client, load, count, concurrency, offset),
  };
  await emulator.admin.clearFaults();
  await stage.openUpstream();
  requireNoErrors('worker warm-up', await paths.gateway(options.warmupRequests, options.concurrency, 0));
  requireNoErrors('direct warm-up', await paths.direct(options.warmupRequests, options.concurrency, 0));

  stage.log(`worker: ${options.requests} requests per path at concurrency ${options.concurrency}`);
  const loaded = added(await compare(stage, paths, options.requests, options.concurrency, options.rounds));
  stage.log(`worker: ${options.sequentialRequests} requests per path one at a time`);
  const sequential = added(await compare(stage, paths, options.sequentialRequests, 1, 2));

  stage.log(`worker: ${options.streams} streams per path, time to first byte`);
  const directToken = await stage.directToken();
  const gateway = {
    url: `http://127.0.0.1:${worker.port}/api/chat/completions`,
    headers: () => hostHeaders(worker.port),
  };
  const requests = streamRequests(stage, directToken, gateway, options.streamTokens);
  await stage.openUpstream();
  await emulator.admin.setFault({
    kind: 'latency',
    firstTokenMs: options.streamFirstTokenMs,
    perTokenMs: options.streamPerTokenMs,
  });
  const ttfbOf = async (name: 'direct' | 'gateway', index: number) =>
    (await timeOkStream(`worker ${name}`, requests[name](index), STREAM_TIMEOUT_MS)).ttfbMs;
  const ttfb = await alternating(options.streams, {
    direct: (index) => ttfbOf('direct', index),
    gateway: (index) => ttfbOf('gateway', index),
  });

  stage.log(`worker: ${options.memoryStreams} concurrent streams, RSS of the worker process`);
  await emulator.admin.setFault({ kind: 'latency', firstTokenMs: 0, perTokenMs: options.memoryPerTokenMs });
  const memoryRequests = streamRequests(
    stage,
    directToken,
    gateway,
    options.memoryTokens,
    'Benchmark memory',
  );
  await stage.openUpstream();
  await sleep(300);
  const baselineSamples: number[] = [];
  for (let index = 0; index < 5; index++) {
    baselineSamples.push(await readRssBytes(worker.pid));
    await sleep(50);
  }
  const baseline = median(baselineSamples);
  const held = await holdStreams({
    count: options.memoryStreams,
    request: memoryRequests.gateway,
    pid: worker.pid,
    timeoutMs: options.memoryTokens * options.memoryPerTokenMs + 30_000,
    sampleEveryMs: 20,
    samples: MEMORY_SAMPLES,
  });
  await emulator.admin.clearFaults();
  if (held.errors > 0) {
    throw new Error(`worker memory: ${held.errors} streams failed; first: ${held.firstError ?? 'unknown'}`);
  }
  if (held.samples.length === 0) {
    throw new Error(
      `worker memory: the streams were never all open at once (${held.opened} opened, ${held.completed} completed first).`,
    );
  }
  const open = median(held.samples);

  const ttfbDirect = median(ttfb.direct);
  const ttfbWorker = median(ttfb.gateway);
  return {
    p50_ms: loaded.p50_ms,
    p99_ms: loaded.p99_ms,
    throughput_ratio: loaded.throughput_ratio,
    ttfb_added_ms: round(ttfbWorker - ttfbDirect, 3),
    rss_per_stream_kb: round((open - baseline) / options.memoryStreams / 1024, 1),
    concurrency: options.concurrency,
    loaded,
    sequential,
    ttfb_direct_ms: round(ttfbDirect, 3),
    ttfb_worker_ms: round(ttfbWorker, 3),
    streams: options.streams,
    memory: {
      streams: options.memoryStreams,
      rss_baseline_mb: round(baseline / 2 ** 20, 1),
      rss_open_mb: round(open / 2 ** 20, 1),
      samples: held.samples.length,
    },
  };
}

export const workerSide: BenchSection = {
  key: 'worker',
  async run(stage) {
    stage.log('worker: starting the worker alone (the library proxy and the app, no local host)');
    const worker = await spawnWorker(stage.packageDir, stage.hostEnv);
    let results: WorkerResults;
    try {
      results = await measure(stage, worker);
    } finally {
      await worker.close();
    }
    const { loaded, sequential } = results;
    return {
      results,
      rows: [
        {
          measure: `worker side (library proxy + gateway): added p50 / p99 at concurrency ${results.concurrency}`,
          target: '≤ 1 ms / ≤ 5 ms',
          measured: `${results.p50_ms} ms / ${results.p99_ms} ms`,
          met: results.p50_ms <= 1 && results.p99_ms <= 5,
        },
        {
          measure: 'worker side: throughput / direct',
          target: '≥ 0.9',
          measured: `${results.throughput_ratio} (${loaded.gateway.rps} / ${loaded.direct.rps} req/s)`,
          met: results.throughput_ratio >= 0.9,
        },
        {
          measure: 'worker side: added time to first streamed byte',
          target: '≤ 1 ms',
          measured: `${results.ttfb_added_ms} ms (${results.ttfb_worker_ms} vs ${results.ttfb_direct_ms} ms)`,
          met: results.ttfb_added_ms <= 1,
        },
        {
          measure: `worker side: RSS per open stream (${results.memory.streams} streams)`,
          target: '≤ 120 KB',
          measured: `${results.rss_per_stream_kb} KB (${results.memory.rss_baseline_mb} → ${results.memory.rss_open_mb} MB)`,
          met: results.rss_per_stream_kb <= 120,
        },
        {
          measure: 'worker side: added p50 / p99, one request at a time',
          target: '(informational)',
          measured: `${sequential.p50_ms} ms / ${sequential.p99_ms} ms (${sequential.gateway.p50_ms} vs ${sequential.direct.p50_ms} ms p50)`,
        },
      ],
      details: [
        `Worker side (${loaded.gateway.requests} requests per path at concurrency ${results.concurrency}; ${sequential.gateway.requests} one at a time): direct p50 ${loaded.direct.p50_ms} / p99 ${loaded.direct.p99_ms} ms, ${loaded.direct.rps} req/s; worker p50 ${loaded.gateway.p50_ms} / p99 ${loaded.gateway.p99_ms} ms, ${loaded.gateway.rps} req/s. Streams: ${results.streams} per path; ${results.memory.samples} RSS samples while all ${results.memory.streams} were open.`,
      ],
    };
  },
};
