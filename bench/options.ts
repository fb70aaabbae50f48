import { parseArgs } from 'node:util';

export const usage = `Measures what the gateway adds, against the Azure emulator, and writes bench/results.json.

Usage: npm run bench -- [options]

  --quick                     a smaller run that finishes in about two minutes
  --requests <n>              chat requests per path for the overhead comparison (default 2000, quick 400)
  --concurrency <n>           requests in flight for the overhead comparison (default 16)
  --upstream-first-token-ms   emulator latency before the answer, overhead comparison (default 0)
  --upstream-per-token-ms     emulator latency per generated token, overhead comparison (default 0)
  --stream-per-token-ms <n>   spacing of streamed tokens (default 20, quick 10)
  --streams <n>               streams per path for time to first byte and spacing (default 60, quick 20)
  --memory-streams <n>        concurrent streams for the memory measurement (default 200)
  --cold-runs <n>             fresh processes per variant for the cold start (default 21, quick 7)
  --update-docs               also replace the results section of docs/benchmarks.md
  --help                      show this text
`;

export interface BenchOptions {
  quick: boolean;
  requests: number;
  rounds: number;
  concurrency: number;
  warmupRequests: number;
  sequentialRequests: number;
  maxTokens: number;
  upstreamFirstTokenMs: number;
  upstreamPerTokenMs: number;
  streams: number;
  streamTokens: number;
  streamFirstTokenMs: number;
  streamPerTokenMs: number;
  memoryStreams: number;
  memoryTokens: number;
  memoryPerTokenMs: number;
  coldRuns: number;
  tokenRequests: number;
  burst: number;
  armRequests: number;
  armTtlSeconds: number;
  updateDocs: boolean;
  /** The whole run stops (and fails) after this long, whatever it is waiting for. */
  deadlineSeconds: number;
}

function count(value: string | undefined, name: string, fallback: number, min = 1, max = 1_000_000): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new Error(`--${name} must be an integer from ${min} to ${max}, got '${value}'.`);
  }
  return parsed;
}

/** The run's settings, or undefined when only help was asked for. */
export function parseBenchOptions(argv: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      'upstream-first-token-ms': { type: 'string' },
      'upstream-per-token-ms': { type: 'string' },
      'stream-per-token-ms': { type: 'string' },
      streams: { type: 'string' },
      'memory-streams': { type: 'string' },
      'cold-runs': { type: 'string' },
      'update-docs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const quick = values.quick;
  return {
    quick,
    requests: count(values.requests, 'requests', quick ? 400 : 2000, 10, 100_000),
    rounds: quick ? 2 : 4,
    concurrency: count(values.concurrency, 'concurrency', 16, 1, 1000),
    warmupRequests: quick ? 100 : 300,
    sequentialRequests: quick ? 100 : 300,
    maxTokens: 16,
    upstreamFirstTokenMs: count(values['upstream-first-token-ms'], 'upstream-first-token-ms', 0, 0, 60_000),
    upstreamPerTokenMs: count(values['upstream-per-token-ms'], 'upstream-per-token-ms', 0, 0, 10_000),
    streams: count(values.streams, 'streams', quick ? 20 : 60, 1, 10_000),
    streamTokens: quick ? 10 : 20,
    streamFirstTokenMs: 0,
    streamPerTokenMs: count(values['stream-per-token-ms'], 'stream-per-token-ms', quick ? 10 : 20, 1, 10_000),
    memoryStreams: count(values['memory-streams'], 'memory-streams', 200, 1, 5_000),
    // NOTE: long enough to outlast opening every stream on a busy machine; the run ends them once measured.
    memoryTokens: 300,
    memoryPerTokenMs: 100,
    coldRuns: count(values['cold-runs'], 'cold-runs', quick ? 7 : 21, 1, 1000),
    tokenRequests: 1000,
    burst: 100,
    armRequests: quick ? 300 : 500,
    armTtlSeconds: 2,
    updateDocs: values['update-docs'],
    deadlineSeconds: quick ? 600 : 1800,
  };
}
