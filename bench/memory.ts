import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { runProcess } from './coldStart';
import type { StreamRequest } from './streaming';

/** Resident set size of another process, from /proc where there is one, else from `ps`. */
export async function readRssBytes(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    if (match?.[1]) return Number(match[1]) * 1024;
  } catch {
    // NOTE: no /proc on this platform; ps below answers in kilobytes too.
  }
  const { stdout } = await runProcess('ps', ['-o', 'rss=', '-p', String(pid)], {
    cwd: process.cwd(),
    timeoutMs: 5_000,
  });
  return Number(stdout.trim()) * 1024;
}

export interface HeldStreams {
  /** RSS samples taken while every stream was open and none had finished. */
  samples: number[];
  opened: number;
  completed: number;
  errors: number;
  firstError: string | undefined;
  /** From the first request to the moment every stream had delivered its first byte. */
  allOpenMs: number;
}

/**
 * Opens `count` streams at once and keeps reading them all; while all of them are open (each has delivered
 * its first byte and none has ended) samples the app's RSS every `sampleEveryMs`, `samples` times, then
 * closes every stream from this side. The streams must be long enough to outlast the opening of all of
 * them, however slow the machine: ending them here keeps the run short when they are.
 */
export async function holdStreams(options: {
  count: number;
  request: (index: number) => StreamRequest;
  pid: number;
  timeoutMs: number;
  sampleEveryMs: number;
  samples: number;
}): Promise<HeldStreams> {
  const started = performance.now();
  let opened = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  let allOpenMs = Number.NaN;
  const measured = new AbortController();
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), measured.signal]);

  const stream = async (index: number): Promise<void> => {
    const request = options.request(index);
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...request.headers },
        body: JSON.stringify(request.body),
        signal,
      });
      if (response.status !== 200 || !response.body) throw new Error(`status ${response.status}`);
      const reader = response.body.getReader();
      let first = true;
      for (;;) {
        const { done } = await reader.read();
        if (first) {
          first = false;
          opened++;
          if (opened === options.count) allOpenMs = performance.now() - started;
        }
        if (done) break;
      }
      completed++;
    } catch (error) {
      if (measured.signal.aborted) return;
      errors++;
      firstError ??= error instanceof Error ? error.message : String(error);
    }
  };

  const running = Array.from({ length: options.count }, (_, index) => stream(index));
  const samples: number[] = [];
  while (!signal.aborted && completed === 0 && errors === 0 && samples.length < options.samples) {
    if (opened === options.count) samples.push(await readRssBytes(options.pid));
    await sleep(options.sampleEveryMs);
  }
  measured.abort();
  await Promise.all(running);
  return { samples, opened, completed, errors, firstError, allOpenMs };
}
