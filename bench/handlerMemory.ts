import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inProcessGateway } from './inProcess';
import { longAnswer } from './stage';

/**
 * Memory the app's own code holds per open stream: the chat handler alone (no host, no library proxy) in a
 * process of its own, started with --expose-gc so the heap can be measured after a collection. The emulator
 * stays in the parent; the parent sets its latency so the streams stay open.
 *
 * Run as a script it is that child: settings arrive in BENCH_* variables and one JSON line is printed.
 */

export interface HandlerMemory {
  streams: number;
  /** Live JS heap (after a full collection) per open stream. */
  heap_per_stream_kb: number;
  /** Memory outside the JS heap that JS objects hold (buffers) per open stream. */
  external_per_stream_kb: number;
  rss_per_stream_kb: number;
}

const kb = (bytes: number, streams: number) => Math.round((bytes / streams / 1024) * 10) / 10;

async function child(): Promise<void> {
  const env = JSON.parse(process.env.BENCH_GATEWAY_ENV ?? '{}') as Record<string, string>;
  const streams = Number(process.env.BENCH_STREAMS);
  const tokens = Number(process.env.BENCH_TOKENS);
  process.env.IDENTITY_ENDPOINT = env.IDENTITY_ENDPOINT ?? '';
  process.env.IDENTITY_HEADER = env.IDENTITY_HEADER ?? '';
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('start this process with --expose-gc');
  const gateway = inProcessGateway(env, process.env.BENCH_CALLER_TOKEN ?? '');
  const body = (index: number, maxTokens = tokens) => ({
    model: env.AZURE_OPENAI_DEPLOYMENT,
    messages: [{ role: 'user', content: longAnswer(maxTokens, `Benchmark memory ${index}`) }],
    max_tokens: maxTokens,
    stream: true,
  });

  // NOTE: the first streams warm up the token, the JWKS, connections and compiled code.
  for (let index = 0; index < 5; index++) await gateway.streamFirstByte(body(index, 2));
  collect();
  const before = process.memoryUsage();

  let opened = 0;
  let allOpen: () => void = () => undefined;
  const everyOpen = new Promise<void>((resolve) => (allOpen = resolve));
  const running = Array.from({ length: streams }, (_, index) =>
    gateway.openStream(body(index), () => {
      if (++opened === streams) allOpen();
    }),
  );
  const deadline = setTimeout(allOpen, 30_000);
  await everyOpen;
  clearTimeout(deadline);
  if (opened === 0) {
    throw new Error(
      `None of the ${streams} streams delivered a first byte within 30 s; nothing to divide by.`,
    );
  }
  collect();
  const during = process.memoryUsage();
  void Promise.all(running);
  const result: HandlerMemory = {
    streams: opened,
    heap_per_stream_kb: kb(during.heapUsed - before.heapUsed, opened),
    external_per_stream_kb: kb(during.external - before.external, opened),
    rss_per_stream_kb: kb(during.rss - before.rss, opened),
  };
  // NOTE: the streams are still open; exiting ends them.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

/** Runs the child above and returns what it measured. */
export function measureHandlerMemory(options: {
  env: Record<string, string>;
  callerToken: string;
  streams: number;
  tokens: number;
  timeoutMs: number;
}): Promise<HandlerMemory> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', '--import', tsx, script], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        BENCH_HANDLER_MEMORY_CHILD: '1',
        BENCH_GATEWAY_ENV: JSON.stringify(options.env),
        BENCH_CALLER_TOKEN: options.callerToken,
        BENCH_STREAMS: String(options.streams),
        BENCH_TOKENS: String(options.tokens),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    proc.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as HandlerMemory);
      else reject(new Error(`handler memory child failed (exit ${code ?? 'signal'}):\n${stderr}${stdout}`));
    });
  });
}

if (process.env.BENCH_HANDLER_MEMORY_CHILD === '1') {
  child().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
