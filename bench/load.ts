import type { OpenAI } from 'openai';
import { percentile, round } from './stats';

/** Runs `count` tasks with at most `concurrency` in flight; every task runs exactly once. */
export async function runPool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export interface Batch {
  latencies: number[];
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
}

export interface ChatLoad {
  /** The deployment (direct) or model name (gateway) every request names. */
  model: string;
  maxTokens: number;
}

const messageFor = (index: number) => [{ role: 'user' as const, content: `Benchmark request ${index}` }];

/** Sends `count` chat completions through `client` at `concurrency`, timing each from call to parsed body. */
export async function chatBatch(
  client: OpenAI,
  load: ChatLoad,
  count: number,
  concurrency: number,
  offset = 0,
): Promise<Batch> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  await runPool(count, concurrency, async (index) => {
    const sent = performance.now();
    try {
      await client.chat.completions.create({
        model: load.model,
        messages: messageFor(offset + index),
        max_completion_tokens: load.maxTokens,
      });
      latencies.push(performance.now() - sent);
    } catch (error) {
      errors++;
      firstError ??= error instanceof Error ? error.message : String(error);
    }
  });
  return { latencies, errors, firstError, elapsedMs: performance.now() - started };
}

export interface PathSummary {
  requests: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  rps: number;
}

export function summarize(batches: readonly Batch[]): PathSummary {
  const latencies = batches.flatMap((batch) => batch.latencies);
  const elapsed = batches.reduce((sum, batch) => sum + batch.elapsedMs, 0);
  return {
    requests: latencies.length,
    errors: batches.reduce((sum, batch) => sum + batch.errors, 0),
    p50_ms: round(percentile(latencies, 50), 3),
    p99_ms: round(percentile(latencies, 99), 3),
    rps: round((latencies.length / elapsed) * 1000, 1),
  };
}

export interface GetBatch {
  statuses: Map<number, number>;
  errors: number;
}

/** `count` GETs of `url` at `concurrency`, counting statuses (bodies are read and dropped). */
export async function getBatch(
  url: string,
  headers: Record<string, string>,
  count: number,
  concurrency: number,
): Promise<GetBatch> {
  const statuses = new Map<number, number>();
  let errors = 0;
  await runPool(count, concurrency, async () => {
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    } catch {
      errors++;
    }
  });
  return { statuses, errors };
}
