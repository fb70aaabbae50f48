import type { OpenAI } from 'openai';
import type { Emulator } from '../tools/emulator/index';
import type { inProcessGateway } from './inProcess';
import { summarize, type Batch, type PathSummary } from './load';
import type { BenchOptions } from './options';
import type { Comparison } from './report';
import { round } from './stats';
import type { StreamRequest } from './streaming';

/** What every part of the run shares: the emulator, the app's settings and the direct client. */
export interface Stage {
  options: BenchOptions;
  emulator: Emulator;
  /** The chat handler built from src/ in this process, with the app's settings. */
  handler: ReturnType<typeof inProcessGateway>;
  /** A copy of the deploy package (dist/, host.json, package.json). */
  packageDir: string;
  /** The app's environment: the emulator's app settings with the caller limits lifted. */
  hostEnv: Record<string, string>;
  callerToken: string;
  /** Calls Azure OpenAI (the emulator) the way the app does, without the app. */
  direct: OpenAI;
  /** A managed-identity token for calling the emulator directly. */
  directToken(): Promise<string>;
  /** Lifts the emulator's Azure OpenAI quota and empties its sliding windows. */
  openUpstream(): Promise<void>;
  log(line: string): void;
}

export type Runner = (count: number, concurrency: number, offset: number) => Promise<Batch>;

export function requireNoErrors(
  what: string,
  batch: { errors: number; firstError?: string | undefined },
): void {
  if (batch.errors > 0) {
    throw new Error(`${what}: ${batch.errors} requests failed; first: ${batch.firstError ?? 'unknown'}`);
  }
}

/**
 * Runs the same requests through two paths in alternating rounds (ABBA), so drift weighs on both alike:
 * both medians of a comparison come from one phase of the run, with the same client and transport.
 */
export async function compare(
  stage: Stage,
  paths: { direct: Runner; gateway: Runner },
  count: number,
  concurrency: number,
  rounds: number,
): Promise<{ direct: PathSummary; gateway: PathSummary }> {
  const batches: { direct: Batch[]; gateway: Batch[] } = { direct: [], gateway: [] };
  const perRound = Math.ceil(count / rounds);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['direct', 'gateway'] as const) : (['gateway', 'direct'] as const);
    for (const name of order) {
      await stage.openUpstream();
      const batch = await paths[name](perRound, concurrency, round * perRound);
      requireNoErrors(`${name} chat`, batch);
      batches[name].push(batch);
    }
  }
  return { direct: summarize(batches.direct), gateway: summarize(batches.gateway) };
}

/** Gateway minus direct: added p50 and p99, and the ratio of their throughputs. */
export const added = (paths: { direct: PathSummary; gateway: PathSummary }): Comparison => ({
  p50_ms: round(paths.gateway.p50_ms - paths.direct.p50_ms, 3),
  p99_ms: round(paths.gateway.p99_ms - paths.direct.p99_ms, 3),
  throughput_ratio: round(paths.gateway.rps / paths.direct.rps, 3),
  ...paths,
});

/** A prompt the emulator answers with exactly `tokens` tokens (its `[[words:N]]` control), so a stream lasts as measured. */
export const longAnswer = (tokens: number, label: string): string => `${label} [[words:${tokens}]]`;

/**
 * The same streamed chat, by index, sent directly to the emulator's Azure OpenAI and to a gateway at
 * `gateway.url` (its chat completions URL) with the caller token and `gateway.headers()`.
 */
export function streamRequests(
  stage: Stage,
  directToken: string,
  gateway: { url: string; headers?: () => Record<string, string> },
  maxTokens: number,
  label = 'Benchmark stream',
): { direct: (index: number) => StreamRequest; gateway: (index: number) => StreamRequest } {
  const { emulator } = stage;
  const messages = (index: number) => [{ role: 'user', content: longAnswer(maxTokens, `${label} ${index}`) }];
  return {
    direct: (index) => ({
      url: `${emulator.urls.openai}/openai/v1/chat/completions`,
      headers: { authorization: `Bearer ${directToken}` },
      body: { model: emulator.deployment, messages: messages(index), max_tokens: maxTokens, stream: true },
    }),
    gateway: (index) => ({
      url: gateway.url,
      headers: { authorization: `Bearer ${stage.callerToken}`, ...gateway.headers?.() },
      body: { model: emulator.deployment, messages: messages(index), max_tokens: maxTokens, stream: true },
    }),
  };
}
