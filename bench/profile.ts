import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OpenAI } from 'openai';
import { format, resolveConfig } from 'prettier';
import { startEmulator } from '../tools/emulator/index';
import { spawnHost } from '../tools/host/index';
import { runProcess } from './coldStart';
import { monotonicMicros, readProfile, summarizeProfile, type ProfileSummary } from './cpuProfile';
import { chatBatch, type Batch, type ChatLoad } from './load';
import { requireNoErrors } from './stage';
import { round } from './stats';
import { workerClient, spawnWorker } from './workerSide';

/**
 * `npx tsx bench/profile.ts [--requests N] [--concurrency C] [--save NAME]`: where the CPU of the app's
 * process goes under load, for the two paths the benchmark reports. It runs chat completions at
 * concurrency C through the local host (tools/host, which shares its process with the app) and through the
 * worker alone (bench/workerProcess.ts, driven as the Functions host drives it), each process started with
 * `--cpu-prof`, and splits the self time sampled while the requests ran by where the code lives.
 * Prints the tables and, with --save, writes them to bench/saved/NAME.json, the record docs/benchmarks.md
 * quotes.
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const UNTHROTTLED_CALLER = {
  LIMIT_REQUESTS_PER_MINUTE: '1000000',
  LIMIT_TOKENS_PER_MINUTE: '100000000',
  LIMIT_CONCURRENT_STREAMS: '10000',
};

interface PathProfile {
  requests: number;
  concurrency: number;
  rps: number;
  /** CPU the process spent per request while the requests ran (profile time less idle). */
  busy_ms_per_request: number;
  profile: ProfileSummary;
}

async function profiled(
  dir: string,
  run: () => Promise<Batch>,
): Promise<{ batch: Batch; window: { fromUs: number; toUs: number } }> {
  await mkdir(dir, { recursive: true });
  const fromUs = monotonicMicros();
  const batch = await run();
  return { batch, window: { fromUs, toUs: monotonicMicros() } };
}

async function summarize(
  dir: string,
  window: { fromUs: number; toUs: number },
  batch: Batch,
  concurrency: number,
): Promise<PathProfile> {
  const file = (await readdir(dir)).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no CPU profile was written to ${dir}`);
  const profile = summarizeProfile(await readProfile(path.join(dir, file)), window, 20);
  return {
    requests: batch.latencies.length,
    concurrency,
    rps: round((batch.latencies.length / batch.elapsedMs) * 1000, 1),
    busy_ms_per_request: round(profile.busyMs / batch.latencies.length, 3),
    profile,
  };
}

function table(name: string, result: PathProfile): string {
  const lines = [
    `${name}: ${result.requests} requests at concurrency ${result.concurrency}, ${result.rps} req/s, ${result.busy_ms_per_request} ms of CPU per request`,
    ...result.profile.categories.map(
      (entry) => `  ${entry.category.padEnd(48)} ${(entry.share * 100).toFixed(1).padStart(5)} %`,
    ),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '16' },
      save: { type: 'string' },
    },
  });
  const requests = Number(values.requests);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(requests) || requests < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error('--requests and --concurrency must be positive integers.');
  }
  const loadAverageAtStart = os.loadavg();
  await runProcess(process.execPath, ['tools/build.mjs'], { cwd: repoRoot, timeoutMs: 120_000 });
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'gateway-profile-'));
  const emulator = await startEmulator();
  const hostEnv = { ...emulator.appSettings(), ...UNTHROTTLED_CALLER };
  const callerToken = await emulator.mintCallerToken();
  const load: ChatLoad = { model: emulator.deployment, maxTokens: 16 };
  const openUpstream = async () => {
    await emulator.admin.resetRateLimits();
    await emulator.admin.setRateLimit(emulator.deployment, {
      tokensPerMinute: 2_000_000_000,
      requestsPer10Seconds: 2_000_000_000,
    });
  };
  try {
    const hostDir = path.join(scratch, 'host');
    const host = await spawnHost({
      appRoot: repoRoot,
      env: hostEnv,
      nodeArguments: ['--cpu-prof', `--cpu-prof-dir=${hostDir}`],
    });
    const viaHost = new OpenAI({ baseURL: host.apiBaseUrl, apiKey: callerToken, maxRetries: 0 });
    await openUpstream();
    requireNoErrors('local host warm-up', await chatBatch(viaHost, load, 300, concurrency));
    await openUpstream();
    const hostRun = await profiled(hostDir, () => chatBatch(viaHost, load, requests, concurrency));
    requireNoErrors('local host', hostRun.batch);
    await host.close();

    const workerDir = path.join(scratch, 'worker');
    const worker = await spawnWorker(repoRoot, hostEnv, ['--cpu-prof', `--cpu-prof-dir=${workerDir}`]);
    const viaWorker = workerClient(worker.port, callerToken);
    await openUpstream();
    requireNoErrors('worker warm-up', await chatBatch(viaWorker, load, 300, concurrency));
    await openUpstream();
    const workerRun = await profiled(workerDir, () => chatBatch(viaWorker, load, requests, concurrency));
    requireNoErrors('worker', workerRun.batch);
    await worker.close();

    const results = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        loadAverageAtStart: loadAverageAtStart.map((value) => round(value, 2)),
        loadAverageAtEnd: os.loadavg().map((value) => round(value, 2)),
      },
      node: process.version,
      localHost: await summarize(hostDir, hostRun.window, hostRun.batch, concurrency),
      worker: await summarize(workerDir, workerRun.window, workerRun.batch, concurrency),
    };
    process.stdout.write(
      `${table('Local host (host and app in one process)', results.localHost)}\n\n${table('Worker alone', results.worker)}\n`,
    );
    if (values.save) {
      const file = path.join(repoRoot, 'bench', 'saved', `${values.save}.json`);
      await mkdir(path.dirname(file), { recursive: true });
      // NOTE: formatted as the repository's Prettier settings want it, so the saved file stays as committed.
      const text = await format(JSON.stringify(results), { ...(await resolveConfig(file)), filepath: file });
      await writeFile(file, text);
      process.stderr.write(`wrote ${path.relative(repoRoot, file)}\n`);
    }
  } finally {
    await emulator.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
