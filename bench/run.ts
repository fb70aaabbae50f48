import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { getBearerTokenProvider, ManagedIdentityCredential } from '@azure/identity';
import { OpenAI } from 'openai';
import { loadConfig } from '../src/lib/config';
import { createOpenAIClient } from '../src/lib/upstream/openaiClient';
import { startEmulator } from '../tools/emulator/index';
import { spawnHost, type SpawnedHost } from '../tools/host/index';
import { compileUnbundled, measureColdStart, runProcess, type ColdStartResult } from './coldStart';
import { chatBatch, getBatch, type ChatLoad } from './load';
import { measureHandlerMemory } from './handlerMemory';
import { inProcessGateway } from './inProcess';
import { holdStreams, readRssBytes } from './memory';
import { parseBenchOptions, usage, type BenchOptions } from './options';
import {
  copyPublishSet,
  directoryBytes,
  listPublishSet,
  productionDependencyBytes,
  zipSizeEstimate,
  type PublishedFile,
} from './publishSet';
import { renderReport, updateDocs, type Results } from './report';
import type { BenchSection, ReportRow } from './section';
import { added, compare, longAnswer, requireNoErrors, streamRequests, type Stage } from './stage';
import { limiterCost } from './limiterCost';
import { workerSide } from './workerSide';
import { median, round } from './stats';
import {
  alternating,
  spacing,
  timeOkStream,
  timeStream,
  type StreamRequest,
  type StreamTiming,
} from './streaming';
import { measureTelemetryOverhead, renderTelemetryOverhead } from './telemetryOverhead';

/**
 * `npm run bench [-- --quick]`: what the gateway adds to every request, measured against the Azure emulator
 * in one run. The app runs from a copy of its deploy package in its own local-host process; the emulator and
 * the load generator share this process. Writes bench/results.json and prints the report.
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';
const BUILD_TIMEOUT_MS = 120_000;
const STREAM_TIMEOUT_MS = 60_000;
/** RSS samples taken while every stream is open, 20 ms apart. */
const MEMORY_SAMPLES = 25;
/** Caller limits high enough that the benchmark measures the gateway, not its throttling. */
const UNTHROTTLED_CALLER = {
  LIMIT_REQUESTS_PER_MINUTE: '1000000',
  LIMIT_TOKENS_PER_MINUTE: '100000000',
  LIMIT_CONCURRENT_STREAMS: '10000',
};
const UNLIMITED_UPSTREAM = { tokensPerMinute: 2_000_000_000, requestsPer10Seconds: 2_000_000_000 };

/** Measurements with their own file, run in this order after the local-host ones (see bench/section.ts). */
const sections: BenchSection[] = [limiterCost, workerSide];

const startedAt = performance.now();
const log = (line: string): void => {
  process.stderr.write(`[bench ${((performance.now() - startedAt) / 1000).toFixed(1)}s] ${line}\n`);
};

async function packageVersion(name: string): Promise<string> {
  const text = await readFile(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** The Node.js 22 binary the project pins (node_modules/.bin/node), for the cold-start processes. */
async function projectNode(): Promise<string> {
  const pinned = path.join(repoRoot, 'node_modules', '.bin', 'node');
  try {
    await access(pinned);
    return pinned;
  } catch {
    return process.execPath;
  }
}

async function startGateway(stage: Stage, env: Record<string, string> = {}): Promise<SpawnedHost> {
  return spawnHost({ appRoot: stage.packageDir, env: { ...stage.hostEnv, ...env } });
}

const gatewayClient = (host: SpawnedHost, callerToken: string): OpenAI =>
  new OpenAI({ baseURL: host.apiBaseUrl, apiKey: callerToken, maxRetries: 0, timeout: 30_000 });

async function measureOverhead(
  options: BenchOptions,
  stage: Stage,
  direct: OpenAI,
  gateway: OpenAI,
): Promise<Results['overhead']> {
  const load: ChatLoad = { model: stage.emulator.deployment, maxTokens: options.maxTokens };
  if (options.upstreamFirstTokenMs > 0 || options.upstreamPerTokenMs > 0) {
    await stage.emulator.admin.setFault({
      kind: 'latency',
      firstTokenMs: options.upstreamFirstTokenMs,
      perTokenMs: options.upstreamPerTokenMs,
    });
  } else {
    await stage.emulator.admin.clearFaults();
  }
  const hosted = {
    direct: (count: number, concurrency: number, offset: number) =>
      chatBatch(direct, load, count, concurrency, offset),
    gateway: (count: number, concurrency: number, offset: number) =>
      chatBatch(gateway, load, count, concurrency, offset),
  };
  const inProcess = {
    direct: hosted.direct,
    gateway: (count: number, concurrency: number, offset: number) =>
      stage.handler.chat(load, count, concurrency, offset),
  };

  log(`overhead: warming up (${options.warmupRequests} requests per path)`);
  await stage.openUpstream();
  requireNoErrors('direct warm-up', await hosted.direct(options.warmupRequests, options.concurrency, 0));
  requireNoErrors('gateway warm-up', await hosted.gateway(options.warmupRequests, options.concurrency, 0));
  requireNoErrors(
    'in-process warm-up',
    await inProcess.gateway(options.warmupRequests, options.concurrency, 0),
  );

  log(`overhead: ${options.requests} requests per path at concurrency ${options.concurrency}`);
  const loaded = await compare(stage, hosted, options.requests, options.concurrency, options.rounds);
  log(`overhead: ${options.sequentialRequests} requests per path one at a time`);
  const sequential = await compare(stage, hosted, options.sequentialRequests, 1, 2);
  log('overhead: the same through the chat handler in this process (no host)');
  const handlerLoaded = await compare(
    stage,
    inProcess,
    options.requests,
    options.concurrency,
    options.rounds,
  );
  const handlerSequential = await compare(stage, inProcess, options.sequentialRequests, 1, 2);
  await stage.emulator.admin.clearFaults();

  const { direct: directLoaded, gateway: gatewayLoaded, ...loadedAdded } = added(loaded);
  return {
    requests: options.requests,
    concurrency: options.concurrency,
    upstream_first_token_ms: options.upstreamFirstTokenMs,
    upstream_per_token_ms: options.upstreamPerTokenMs,
    max_tokens: options.maxTokens,
    ...loadedAdded,
    direct: directLoaded,
    gateway: gatewayLoaded,
    sequential: added(sequential),
    handler: { loaded: added(handlerLoaded), sequential: added(handlerSequential) },
  };
}

async function measureStreaming(
  options: BenchOptions,
  stage: Stage,
  host: SpawnedHost,
  directToken: string,
): Promise<Results['streaming']> {
  const { emulator } = stage;
  const { direct: directRequest, gateway: gatewayRequest } = streamRequests(
    stage,
    directToken,
    { url: `${host.apiBaseUrl}/chat/completions` },
    options.streamTokens,
  );

  await stage.openUpstream();
  await emulator.admin.setFault({
    kind: 'latency',
    firstTokenMs: options.streamFirstTokenMs,
    perTokenMs: options.streamPerTokenMs,
  });
  log(
    `streaming: ${options.streams} streams per path, ${options.streamTokens} tokens ${options.streamPerTokenMs} ms apart`,
  );
  const timings = await alternating(options.streams, {
    direct: (index) => timeOkStream('direct', directRequest(index), STREAM_TIMEOUT_MS),
    gateway: (index) => timeOkStream('gateway', gatewayRequest(index), STREAM_TIMEOUT_MS),
  });
  // NOTE: the handler's own comparison: direct streams again, alternating with the handler in this phase.
  const handlerPhase = await alternating(options.streams, {
    direct: async (index) => (await timeOkStream('direct', directRequest(index), STREAM_TIMEOUT_MS)).ttfbMs,
    gateway: (index) => stage.handler.streamFirstByte(gatewayRequest(index).body),
  });
  await emulator.admin.clearFaults();

  const ttfb = (list: StreamTiming[]) => median(list.map((timing) => timing.ttfbMs));
  const total = (list: StreamTiming[]) => median(list.map((timing) => timing.totalMs));
  const direct = spacing(timings.direct);
  const gateway = spacing(timings.gateway);
  const preserved =
    Math.abs(gateway.gap_p50_ms - direct.gap_p50_ms) <= 2 &&
    gateway.coalesced_fraction <= Math.max(0.05, direct.coalesced_fraction + 0.02);
  return {
    streams: options.streams,
    tokens: options.streamTokens,
    first_token_ms: options.streamFirstTokenMs,
    per_token_ms: options.streamPerTokenMs,
    ttfb_added_ms: round(ttfb(timings.gateway) - ttfb(timings.direct), 3),
    ttfb_direct_ms: round(ttfb(timings.direct), 3),
    ttfb_gateway_ms: round(ttfb(timings.gateway), 3),
    handler_ttfb_added_ms: round(median(handlerPhase.gateway) - median(handlerPhase.direct), 3),
    total_added_ms: round(total(timings.gateway) - total(timings.direct), 3),
    spacing: { direct, gateway, preserved },
  };
}

async function measureTokensAndArm(
  options: BenchOptions,
  stage: Stage,
  host: SpawnedHost,
): Promise<{ tokenFetches: Results['tokenFetches']; arm: Results['arm'] }> {
  const { emulator } = stage;
  const gateway = gatewayClient(host, stage.callerToken);
  const load: ChatLoad = { model: emulator.deployment, maxTokens: options.maxTokens };

  log(`tokens: ${options.tokenRequests} chats on a fresh app process, the first ${options.burst} at once`);
  await emulator.admin.resetStats();
  await stage.openUpstream();
  const burst = await chatBatch(gateway, load, options.burst, options.burst);
  const rest = await chatBatch(
    gateway,
    load,
    options.tokenRequests - options.burst,
    options.concurrency,
    options.burst,
  );
  requireNoErrors('token burst', burst);
  requireNoErrors('token requests', rest);
  const chatStats = await emulator.admin.stats();

  log(
    `arm: GET /models, ${options.burst} at once, then ${options.armRequests - options.burst} more, then again after the TTL`,
  );
  await emulator.admin.resetStats();
  const modelsUrl = `${host.apiBaseUrl}/models`;
  const headers = { authorization: `Bearer ${stage.callerToken}` };
  const batches = [
    await getBatch(modelsUrl, headers, options.burst, options.burst),
    await getBatch(modelsUrl, headers, options.armRequests - options.burst, options.concurrency),
  ];
  const firstLoad = await emulator.admin.stats();
  await sleep(options.armTtlSeconds * 1000 + 500);
  batches.push(await getBatch(modelsUrl, headers, options.burst, options.burst));
  const afterTtl = await emulator.admin.stats();
  const ok = batches.reduce((sum, batch) => sum + (batch.statuses.get(200) ?? 0), 0);
  const requests = options.armRequests + options.burst;
  if (ok !== requests) {
    const seen = batches.flatMap((batch) =>
      [...batch.statuses.entries()].map(([status, n]) => `${status}×${n}`),
    );
    throw new Error(`GET /models: ${ok} of ${requests} answered 200 (${seen.join(', ')})`);
  }
  return {
    tokenFetches: {
      requests: burst.latencies.length + rest.latencies.length,
      concurrent_first: options.burst,
      identityCalls: chatStats.identityCalls,
      chatCalls: chatStats.chatCalls,
    },
    arm: {
      requests,
      ttl_seconds: options.armTtlSeconds,
      calls_per_load: firstLoad.armCalls,
      calls: afterTtl.armCalls,
      loads: firstLoad.armCalls === 0 ? 0 : round(afterTtl.armCalls / firstLoad.armCalls, 2),
      identityCalls: afterTtl.identityCalls,
    },
  };
}

async function measureMemory(
  options: BenchOptions,
  stage: Stage,
  host: SpawnedHost,
): Promise<Results['memory']> {
  const { emulator } = stage;
  const request = (index: number, tokens: number): StreamRequest => ({
    url: `${host.apiBaseUrl}/chat/completions`,
    headers: { authorization: `Bearer ${stage.callerToken}` },
    body: {
      model: emulator.deployment,
      messages: [{ role: 'user', content: longAnswer(tokens, `Benchmark memory ${index}`) }],
      max_tokens: tokens,
      stream: true,
    },
  });
  await stage.openUpstream();
  await emulator.admin.clearFaults();
  for (let index = 0; index < 20; index++) await timeStream(request(index, 4), STREAM_TIMEOUT_MS);
  await emulator.admin.setFault({ kind: 'latency', firstTokenMs: 0, perTokenMs: options.memoryPerTokenMs });
  await sleep(300);
  const baselineSamples: number[] = [];
  for (let index = 0; index < 5; index++) {
    baselineSamples.push(await readRssBytes(host.pid));
    await sleep(50);
  }
  const baseline = median(baselineSamples);

  log(
    `memory: ${options.memoryStreams} concurrent streams of ${options.memoryTokens} tokens ${options.memoryPerTokenMs} ms apart`,
  );
  const held = await holdStreams({
    count: options.memoryStreams,
    request: (index) => request(index, options.memoryTokens),
    pid: host.pid,
    timeoutMs: options.memoryTokens * options.memoryPerTokenMs + 30_000,
    sampleEveryMs: 20,
    samples: MEMORY_SAMPLES,
  });
  log(`memory: the same streams through the chat handler alone, in a process of its own`);
  const handler = await measureHandlerMemory({
    env: stage.hostEnv,
    callerToken: stage.callerToken,
    streams: options.memoryStreams,
    tokens: options.memoryTokens,
    timeoutMs: options.memoryTokens * options.memoryPerTokenMs + 60_000,
  });
  await emulator.admin.clearFaults();
  if (held.errors > 0) {
    throw new Error(`memory: ${held.errors} streams failed; first: ${held.firstError ?? 'unknown'}`);
  }
  const after = await readRssBytes(host.pid);
  // NOTE: the median of the plateau is the RSS "with N streams open"; the peak adds garbage between collections.
  const open = median(held.samples);
  const peak = held.samples.length > 0 ? Math.max(...held.samples) : Number.NaN;
  const perStreamKb = (rss: number) => round((rss - baseline) / options.memoryStreams / 1024, 1);
  return {
    streams: options.memoryStreams,
    rss_per_stream_kb: perStreamKb(open),
    rss_per_stream_peak_kb: perStreamKb(peak),
    rss_baseline_mb: round(baseline / 2 ** 20, 1),
    rss_open_mb: round(open / 2 ** 20, 1),
    rss_peak_mb: round(peak / 2 ** 20, 1),
    rss_after_mb: round(after / 2 ** 20, 1),
    samples_while_all_open: held.samples.length,
    all_open_after_ms: round(held.allOpenMs, 0),
    handler,
  };
}

async function measurePackage(): Promise<{
  files: PublishedFile[];
  packageDir: string;
  bytes: number;
  zipBytes: number;
}> {
  const files = await listPublishSet(repoRoot);
  const packageDir = await mkdtemp(path.join(os.tmpdir(), 'gateway-package-'));
  await copyPublishSet(repoRoot, files, packageDir);
  return {
    files,
    packageDir,
    bytes: files.reduce((sum, file) => sum + file.bytes, 0),
    zipBytes: await zipSizeEstimate(repoRoot, files),
  };
}

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(usage);
    return;
  }
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 22)
    throw new Error(`Run with Node.js 22 or later (npm run bench does); this is ${process.version}.`);

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    cleanups.length = 0;
  };
  const deadline = setTimeout(() => {
    log(`did not finish within ${options.deadlineSeconds} s; stopping`);
    void cleanUp().finally(() => process.exit(2));
  }, options.deadlineSeconds * 1000);

  try {
    const node = await projectNode();
    const loadAverageAtStart = os.loadavg();
    log('building dist/ with tools/build.mjs');
    await runProcess(node, ['tools/build.mjs'], { cwd: repoRoot, timeoutMs: BUILD_TIMEOUT_MS });
    const pkg = await measurePackage();
    cleanups.push(() => rm(pkg.packageDir, { recursive: true, force: true }));
    const sourceMaps = pkg.files.filter((file) => file.path.endsWith('.map')).map((file) => file.path);
    log(`deploy package: ${pkg.files.map((file) => file.path).join(', ')} (${pkg.bytes} bytes)`);

    await mkdir(path.join(repoRoot, '.cache'), { recursive: true });
    const unbundledDir = await mkdtemp(path.join(repoRoot, '.cache', 'bench-unbundled-'));
    cleanups.push(() => rm(unbundledDir, { recursive: true, force: true }));
    const unbundledEntry = await compileUnbundled(repoRoot, unbundledDir);
    log(`cold start: ${options.coldRuns} fresh processes each, bundled and unbundled`);
    const coldStart: ColdStartResult = await measureColdStart({
      node,
      bundledEntry: path.join(pkg.packageDir, 'dist', 'index.js'),
      unbundledEntry,
      cwd: os.tmpdir(),
      runs: options.coldRuns,
    });
    const unbundledPackageBytes =
      (await productionDependencyBytes(repoRoot)) +
      (await directoryBytes(unbundledDir)) +
      pkg.files.filter((file) => !file.path.startsWith('dist/')).reduce((sum, file) => sum + file.bytes, 0);

    const emulator = await startEmulator();
    cleanups.push(() => emulator.close());
    const settings = emulator.appSettings();
    // NOTE: the direct client authenticates as the app does in Azure: managed identity via the emulator.
    process.env.IDENTITY_ENDPOINT = settings.IDENTITY_ENDPOINT ?? '';
    process.env.IDENTITY_HEADER = settings.IDENTITY_HEADER ?? '';
    const tokenProvider = getBearerTokenProvider(new ManagedIdentityCredential(), COGNITIVE_SERVICES_SCOPE);
    // NOTE: the app's own client factory, so the direct path speaks the same API surface as the gateway.
    const direct = createOpenAIClient(
      loadConfig({ ...settings, UPSTREAM_MAX_RETRIES: '0', UPSTREAM_TIMEOUT_MS: '30000' }),
      new ManagedIdentityCredential(),
    );
    const hostEnv = { ...settings, ...UNTHROTTLED_CALLER };
    const callerToken = await emulator.mintCallerToken();
    const stage: Stage = {
      options,
      emulator,
      handler: inProcessGateway(hostEnv, callerToken),
      packageDir: pkg.packageDir,
      hostEnv,
      callerToken,
      direct,
      directToken: tokenProvider,
      log,
      openUpstream: async () => {
        // NOTE: also empties the emulator's sliding windows, whose bookkeeping grows with every request.
        await emulator.admin.resetRateLimits();
        await emulator.admin.setRateLimit(emulator.deployment, UNLIMITED_UPSTREAM);
      },
    };

    log('starting the app (local host, deploy package) for overhead and streaming');
    const hostA = await startGateway(stage);
    cleanups.push(() => hostA.close());
    const overhead = await measureOverhead(options, stage, direct, gatewayClient(hostA, stage.callerToken));
    const streaming = await measureStreaming(options, stage, hostA, await tokenProvider());
    await hostA.close();

    log('starting a fresh app process for token and ARM measurements');
    const hostB = await startGateway(stage, { MODELS_CACHE_TTL_SECONDS: String(options.armTtlSeconds) });
    cleanups.push(() => hostB.close());
    const { tokenFetches, arm } = await measureTokensAndArm(options, stage, hostB);
    await hostB.close();

    // NOTE: a process of its own, so the heap the earlier phases grew does not hide what the streams need.
    log('starting a fresh app process for the memory measurement');
    const hostC = await startGateway(stage);
    cleanups.push(() => hostC.close());
    const memory = await measureMemory(options, stage, hostC);
    await hostC.close();

    const sectionResults: Record<string, unknown> = {};
    const sectionRows: ReportRow[] = [];
    const sectionDetails: string[] = [];
    for (const section of sections) {
      const outcome = await section.run(stage);
      sectionResults[section.key] = outcome.results;
      sectionRows.push(...outcome.rows);
      sectionDetails.push(...outcome.details);
    }

    log('measuring what telemetry adds in the worker');
    const telemetry = await measureTelemetryOverhead();

    const results: Results = {
      mode: options.quick ? 'quick' : 'full',
      date: new Date().toISOString(),
      durationSeconds: round((performance.now() - startedAt) / 1000, 1),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGb: round(os.totalmem() / 2 ** 30, 1),
        platform: `${os.platform()} ${os.release()}`,
        loadAverageAtStart: loadAverageAtStart.map((value) => round(value, 2)),
        loadAverageAtEnd: os.loadavg().map((value) => round(value, 2)),
      },
      versions: {
        node: process.version,
        '@azure/functions': await packageVersion('@azure/functions'),
        '@azure/identity': await packageVersion('@azure/identity'),
        '@azure/arm-cognitiveservices': await packageVersion('@azure/arm-cognitiveservices'),
        openai: await packageVersion('openai'),
        zod: await packageVersion('zod'),
        jose: await packageVersion('jose'),
        esbuild: await packageVersion('esbuild'),
      },
      localHost: {
        sequential_p50_ms: overhead.sequential.p50_ms,
        throughput_ratio: overhead.throughput_ratio,
        p50_ms: overhead.p50_ms,
        p99_ms: overhead.p99_ms,
        ttfb_added_ms: streaming.ttfb_added_ms,
        rss_per_stream_kb: memory.rss_per_stream_kb,
      },
      overhead,
      streaming,
      coldStart,
      packageBytes: pkg.bytes,
      packageZipBytes: pkg.zipBytes,
      packageFiles: pkg.files,
      packageSourceMaps: sourceMaps,
      unbundledPackageBytes,
      memory,
      tokenFetches,
      arm,
    };
    await writeFile(
      path.join(repoRoot, 'bench', 'results.json'),
      `${JSON.stringify({ ...results, ...sectionResults, telemetry }, null, 2)}\n`,
    );
    const report = renderReport(results, { rows: sectionRows, details: sectionDetails });
    process.stdout.write(`${report}\n\n${renderTelemetryOverhead(telemetry)}\n`);
    if (options.updateDocs) {
      await updateDocs(path.join(repoRoot, 'docs', 'benchmarks.md'), report);
      log('updated docs/benchmarks.md');
    }
    log(`done in ${results.durationSeconds} s; wrote bench/results.json`);
  } finally {
    clearTimeout(deadline);
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
