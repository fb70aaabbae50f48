import { readFile, writeFile } from 'node:fs/promises';
import { format, resolveConfig } from 'prettier';
import type { ColdStartResult } from './coldStart';
import type { HandlerMemory } from './handlerMemory';
import type { PathSummary } from './load';
import type { PublishedFile } from './publishSet';
import type { ReportRow } from './section';
import type { SpacingSummary } from './streaming';

export interface Comparison {
  p50_ms: number;
  p99_ms: number;
  throughput_ratio: number;
  direct: PathSummary;
  gateway: PathSummary;
}

/** The shape of bench/results.json. */
export interface Results {
  mode: 'quick' | 'full';
  date: string;
  durationSeconds: number;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGb: number;
    platform: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  versions: Record<string, string>;
  /** The local-host path (client → tools/host → library proxy → app), the headline figures of `overhead`. */
  localHost: {
    /** Added p50 one request at a time. */
    sequential_p50_ms: number;
    /** Requests per second through the local host over direct, at the run's concurrency. */
    throughput_ratio: number;
    p50_ms: number;
    p99_ms: number;
    ttfb_added_ms: number;
    rss_per_stream_kb: number;
  };
  overhead: {
    requests: number;
    concurrency: number;
    upstream_first_token_ms: number;
    upstream_per_token_ms: number;
    max_tokens: number;
    /** Gateway p50 minus direct p50 (percentiles of each path, not of paired differences). */
    p50_ms: number;
    p99_ms: number;
    /** Gateway requests per second over direct requests per second. */
    throughput_ratio: number;
    direct: PathSummary;
    gateway: PathSummary;
    sequential: Comparison;
    /** The chat handler called in the benchmark process: the app's own cost, without host or sockets. */
    handler: { loaded: Comparison; sequential: Comparison };
  };
  streaming: {
    streams: number;
    tokens: number;
    first_token_ms: number;
    per_token_ms: number;
    ttfb_added_ms: number;
    ttfb_direct_ms: number;
    ttfb_gateway_ms: number;
    /** The chat handler in this process: time to its first streamed byte over the direct time to first byte. */
    handler_ttfb_added_ms: number;
    total_added_ms: number;
    spacing: { direct: SpacingSummary; gateway: SpacingSummary; preserved: boolean };
  };
  coldStart: ColdStartResult;
  packageBytes: number;
  packageZipBytes: number;
  packageFiles: PublishedFile[];
  packageSourceMaps: string[];
  unbundledPackageBytes: number;
  memory: {
    streams: number;
    /** (median RSS while all streams were open − RSS before) / streams. */
    rss_per_stream_kb: number;
    /** The same from the highest sample. */
    rss_per_stream_peak_kb: number;
    rss_baseline_mb: number;
    rss_open_mb: number;
    rss_peak_mb: number;
    rss_after_mb: number;
    samples_while_all_open: number;
    all_open_after_ms: number;
    /** The chat handler alone in a process of its own, measured after a full collection. */
    handler: HandlerMemory;
  };
  tokenFetches: { requests: number; concurrent_first: number; identityCalls: number; chatCalls: number };
  arm: {
    requests: number;
    ttl_seconds: number;
    calls_per_load: number;
    calls: number;
    loads: number;
    identityCalls: number;
  };
}

const mb = (bytes: number): string => `${(bytes / 1_000_000).toFixed(2)} MB`;
const verdict = (met: boolean): string => (met ? 'met' : '**missed**');

/**
 * The results as Markdown: targets against measurements (the sections' rows first: the worker side is the
 * figure that holds in Azure), then the details behind them.
 */
export function renderReport(
  results: Results,
  sections: { rows: ReportRow[]; details: string[] } = { rows: [], details: [] },
): string {
  const { overhead, streaming, coldStart, memory, tokenFetches, arm } = results;
  const seq = overhead.sequential;
  const handler = overhead.handler;
  const rows: [string, string, string, boolean | undefined][] = [
    ...sections.rows.map((row): [string, string, string, boolean | undefined] => [
      row.measure,
      row.target,
      row.measured,
      row.met,
    ]),
    [
      'through the local host: added p50 / p99, one request at a time',
      '≤ 1 ms p50',
      `${seq.p50_ms} ms / ${seq.p99_ms} ms (${seq.gateway.p50_ms} vs ${seq.direct.p50_ms} ms p50)`,
      seq.p50_ms <= 1,
    ],
    [
      `through the local host: throughput / direct (concurrency ${overhead.concurrency})`,
      '≥ 0.6',
      `${overhead.throughput_ratio} (${overhead.gateway.rps} / ${overhead.direct.rps} req/s)`,
      overhead.throughput_ratio >= 0.6,
    ],
    [
      `through the local host: added p50 / p99 (concurrency ${overhead.concurrency}, upstream latency ${overhead.upstream_first_token_ms}+${overhead.upstream_per_token_ms}/token ms)`,
      '(informational)',
      `${overhead.p50_ms} ms / ${overhead.p99_ms} ms`,
      undefined,
    ],
    [
      'through the local host: added time to first streamed byte',
      '(informational)',
      `${streaming.ttfb_added_ms} ms (${streaming.ttfb_gateway_ms} vs ${streaming.ttfb_direct_ms} ms)`,
      undefined,
    ],
    [
      'cold load of the bundled entry vs unbundled (median wall time)',
      '≤ 0.3×',
      `${coldStart.ratio}× (${coldStart.bundled_ms} vs ${coldStart.unbundled_ms} ms; CPU ${coldStart.cpu_ratio}×)`,
      coldStart.ratio <= 0.3,
    ],
    [
      'deploy package',
      '≤ 3 MB',
      `${mb(results.packageBytes)} (zip ≈ ${mb(results.packageZipBytes)}; ${results.packageSourceMaps.length} source maps)`,
      results.packageBytes <= 3_000_000 && results.packageSourceMaps.length === 0,
    ],
    [
      `identity-endpoint calls for ${tokenFetches.requests} requests (${tokenFetches.concurrent_first} concurrent first)`,
      '1',
      String(tokenFetches.identityCalls),
      tokenFetches.identityCalls === 1,
    ],
    [
      `through the local host: RSS per concurrent stream (${memory.streams} streams, host and worker in one process)`,
      '(informational)',
      `${memory.rss_per_stream_kb} KB (${memory.rss_baseline_mb} → ${memory.rss_open_mb} MB; peak ${memory.rss_peak_mb} MB = ${memory.rss_per_stream_peak_kb} KB/stream)`,
      undefined,
    ],
    [
      'streamed chunk spacing preserved',
      `gaps ≈ ${streaming.per_token_ms} ms, not coalesced`,
      `p50 ${streaming.spacing.gateway.gap_p50_ms} ms (direct ${streaming.spacing.direct.gap_p50_ms}), p95 ${streaming.spacing.gateway.gap_p95_ms} ms, coalesced ${streaming.spacing.gateway.coalesced_fraction}`,
      streaming.spacing.preserved,
    ],
    [
      `ARM loads for ${arm.requests} model listings across one TTL expiry (${arm.ttl_seconds} s)`,
      '1 per TTL',
      `${arm.loads} loads (${arm.calls} ARM requests, ${arm.calls_per_load} pages per load; ${arm.identityCalls} ARM token)`,
      arm.loads === 2,
    ],
    [
      `chat handler alone, in process: added p50 / p99 at concurrency ${overhead.concurrency}; throughput ratio`,
      '(informational)',
      `${handler.loaded.p50_ms} ms / ${handler.loaded.p99_ms} ms; ${handler.loaded.throughput_ratio}`,
      undefined,
    ],
    [
      'chat handler alone, in process: added time to first streamed byte',
      '(informational)',
      `${streaming.handler_ttfb_added_ms} ms`,
      undefined,
    ],
    [
      `chat handler alone, own process: memory per open stream (${memory.handler.streams} streams, after GC)`,
      '(informational)',
      `JS heap ${memory.handler.heap_per_stream_kb} KB + buffers ${memory.handler.external_per_stream_kb} KB; RSS ${memory.handler.rss_per_stream_kb} KB`,
      undefined,
    ],
    [
      'chat handler alone, in process: added p50 / p99, one request at a time',
      '(informational)',
      `${handler.sequential.p50_ms} ms / ${handler.sequential.p99_ms} ms`,
      undefined,
    ],
  ];
  const table = [
    '| measure | target | measured | |',
    '|---|---|---|---|',
    ...rows.map(
      ([measure, target, measured, met]) =>
        `| ${measure} | ${target} | ${measured} | ${met === undefined ? '' : verdict(met)} |`,
    ),
  ];
  const { machine, versions } = results;
  const details = [
    `Run: \`${results.mode}\`, ${results.date}, ${results.durationSeconds} s. Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, ${machine.platform}; load average ${machine.loadAverageAtStart.join(' ')} at start, ${machine.loadAverageAtEnd.join(' ')} at end.`,
    `Versions: ${Object.entries(versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
    '| path | requests | p50 ms | p99 ms | req/s |',
    '|---|---|---|---|---|',
    `| direct (local-host run), concurrency ${overhead.concurrency} | ${overhead.direct.requests} | ${overhead.direct.p50_ms} | ${overhead.direct.p99_ms} | ${overhead.direct.rps} |`,
    `| local host, concurrency ${overhead.concurrency} | ${overhead.gateway.requests} | ${overhead.gateway.p50_ms} | ${overhead.gateway.p99_ms} | ${overhead.gateway.rps} |`,
    `| direct (local-host run), one at a time | ${seq.direct.requests} | ${seq.direct.p50_ms} | ${seq.direct.p99_ms} | ${seq.direct.rps} |`,
    `| local host, one at a time | ${seq.gateway.requests} | ${seq.gateway.p50_ms} | ${seq.gateway.p99_ms} | ${seq.gateway.rps} |`,
    `| direct (handler run), concurrency ${overhead.concurrency} | ${handler.loaded.direct.requests} | ${handler.loaded.direct.p50_ms} | ${handler.loaded.direct.p99_ms} | ${handler.loaded.direct.rps} |`,
    `| chat handler in process, concurrency ${overhead.concurrency} | ${handler.loaded.gateway.requests} | ${handler.loaded.gateway.p50_ms} | ${handler.loaded.gateway.p99_ms} | ${handler.loaded.gateway.rps} |`,
    `| direct (handler run), one at a time | ${handler.sequential.direct.requests} | ${handler.sequential.direct.p50_ms} | ${handler.sequential.direct.p99_ms} | ${handler.sequential.direct.rps} |`,
    `| chat handler in process, one at a time | ${handler.sequential.gateway.requests} | ${handler.sequential.gateway.p50_ms} | ${handler.sequential.gateway.p99_ms} | ${handler.sequential.gateway.rps} |`,
    '',
    `Cold start (${coldStart.runs} fresh processes each, medians): bundled ${coldStart.bundled_ms} ms wall / ${coldStart.bundled_cpu_ms} ms CPU (best ${coldStart.bundled_min_ms} ms), unbundled ${coldStart.unbundled_ms} ms / ${coldStart.unbundled_cpu_ms} ms CPU (best ${coldStart.unbundled_min_ms} ms); whole process ${coldStart.bundled_process_ms} vs ${coldStart.unbundled_process_ms} ms. ${coldStart.functions} functions registered.`,
    `Deploy package: ${results.packageFiles.map((file) => `${file.path} (${file.bytes} B)`).join(', ')}. An unbundled deployment would upload ${mb(results.unbundledPackageBytes)} (compiled src + production node_modules).`,
    `Streaming (${streaming.streams} streams per path, ${streaming.tokens} tokens ${streaming.per_token_ms} ms apart): total time added ${streaming.total_added_ms} ms; direct gaps p50 ${streaming.spacing.direct.gap_p50_ms} / p95 ${streaming.spacing.direct.gap_p95_ms} ms.`,
    `Memory: ${memory.samples_while_all_open} RSS samples while all ${memory.streams} streams were open (all open after ${memory.all_open_after_ms} ms); ${memory.rss_after_mb} MB after they ended.`,
    `Tokens: ${tokenFetches.chatCalls} chat calls reached the emulator; ${tokenFetches.identityCalls} identity-endpoint call(s).`,
    ...sections.details,
  ];
  return [...table, '', ...details].join('\n');
}

const BEGIN = '<!-- bench:results:begin -->';
const END = '<!-- bench:results:end -->';

/** Replaces the generated section of docs/benchmarks.md, leaving the prose around it as written. */
export async function updateDocs(file: string, report: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin === -1 || end < begin) throw new Error(`${file} has no ${BEGIN} … ${END} section.`);
  const updated = `${text.slice(0, begin + BEGIN.length)}\n${report}\n${text.slice(end)}`;
  // NOTE: formatted with the repository's Prettier settings, so the generated tables stay as committed.
  const options = (await resolveConfig(file)) ?? {};
  await writeFile(file, await format(updated, { ...options, filepath: file }));
}
