import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { median, round } from './stats';

/**
 * How long a fresh Node.js process takes to load the app's entry module, the way the Functions worker loads
 * it: `require` with `@azure/functions-core` provided through the same `Module.prototype.require` hook
 * tools/host installs. Bundled (dist/index.js, away from node_modules) against unbundled (every src file
 * compiled on its own, dependencies read from node_modules).
 */

/** Runs in the measured process: provides the worker's core module, then times `require(entry)`. */
const LOAD_SCRIPT = `
const Module = require('node:module');
const original = Module.prototype.require;
let functions = 0;
class Disposable { constructor(callOnDispose) { this.callOnDispose = callOnDispose; } dispose() { this.callOnDispose?.(); } }
const core = {
  version: '3.12.0-bench', hostVersion: '4.0.0-bench', Disposable,
  registerFunction: () => { functions += 1; return new Disposable(() => undefined); },
  registerHook: () => new Disposable(() => undefined),
  setProgrammingModel: () => undefined, getProgrammingModel: () => undefined, log: () => undefined,
};
Module.prototype.require = new Proxy(original, {
  apply: (target, self, args) => (args[0] === '@azure/functions-core' ? core : Reflect.apply(target, self, args)),
});
const cpu = process.cpuUsage();
const started = performance.now();
require(process.argv[1]);
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, functions }));
`;

const RUN_TIMEOUT_MS = 30_000;

export interface LoadSample {
  /** Wall time of `require(entry)`. */
  ms: number;
  /** CPU time of `require(entry)` (user + system), less sensitive to other load on the machine. */
  cpuMs: number;
  /** Wall time of the whole process, from spawn to exit (Node.js start-up included). */
  processMs: number;
  functions: number;
}

export function runProcess(
  command: string,
  args: readonly string[],
  options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else {
        const how = signal ?? `exit code ${code ?? 'unknown'}`;
        reject(new Error(`${command} ${args.slice(0, 2).join(' ')} failed (${how}).\n${stderr}${stdout}`));
      }
    });
  });
}

/** Loads `entry` once in a fresh process. */
export async function measureLoad(node: string, entry: string, cwd: string): Promise<LoadSample> {
  const started = performance.now();
  const { stdout } = await runProcess(node, ['-e', LOAD_SCRIPT, entry], { cwd, timeoutMs: RUN_TIMEOUT_MS });
  const processMs = performance.now() - started;
  const sample = JSON.parse(stdout) as Omit<LoadSample, 'processMs'>;
  return { ...sample, processMs };
}

async function sourceFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** The app compiled file by file, as `tsc` would emit it: no bundling, dependencies left to node_modules. */
export async function compileUnbundled(repoRoot: string, outdir: string): Promise<string> {
  const srcDir = path.join(repoRoot, 'src');
  await build({
    entryPoints: await sourceFiles(srcDir),
    outdir,
    outbase: srcDir,
    bundle: false,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    logLevel: 'warning',
  });
  return path.join(outdir, 'index.js');
}

export interface ColdStartResult {
  runs: number;
  bundled_ms: number;
  unbundled_ms: number;
  /** bundled_ms / unbundled_ms. */
  ratio: number;
  bundled_cpu_ms: number;
  unbundled_cpu_ms: number;
  cpu_ratio: number;
  bundled_process_ms: number;
  unbundled_process_ms: number;
  bundled_min_ms: number;
  unbundled_min_ms: number;
  functions: number;
}

/** Alternates bundled and unbundled loads so drift on the machine affects both alike; medians of `runs` each. */
export async function measureColdStart(options: {
  node: string;
  bundledEntry: string;
  unbundledEntry: string;
  cwd: string;
  runs: number;
}): Promise<ColdStartResult> {
  const samples: Record<'bundled' | 'unbundled', LoadSample[]> = { bundled: [], unbundled: [] };
  const entries = { bundled: options.bundledEntry, unbundled: options.unbundledEntry };
  // NOTE: one unrecorded load of each first, so both start with their files in the OS page cache.
  await measureLoad(options.node, entries.bundled, options.cwd);
  await measureLoad(options.node, entries.unbundled, options.cwd);
  for (let run = 0; run < options.runs; run++) {
    const order = run % 2 === 0 ? (['bundled', 'unbundled'] as const) : (['unbundled', 'bundled'] as const);
    for (const variant of order)
      samples[variant].push(await measureLoad(options.node, entries[variant], options.cwd));
  }
  const { bundled, unbundled } = samples;
  const functions = Math.min(...bundled.map((s) => s.functions), ...unbundled.map((s) => s.functions));
  const wall = (list: LoadSample[]) => median(list.map((s) => s.ms));
  const cpu = (list: LoadSample[]) => median(list.map((s) => s.cpuMs));
  return {
    runs: options.runs,
    bundled_ms: round(wall(bundled), 1),
    unbundled_ms: round(wall(unbundled), 1),
    ratio: round(wall(bundled) / wall(unbundled), 3),
    bundled_cpu_ms: round(cpu(bundled), 1),
    unbundled_cpu_ms: round(cpu(unbundled), 1),
    cpu_ratio: round(cpu(bundled) / cpu(unbundled), 3),
    bundled_process_ms: round(median(bundled.map((s) => s.processMs)), 1),
    unbundled_process_ms: round(median(unbundled.map((s) => s.processMs)), 1),
    bundled_min_ms: round(Math.min(...bundled.map((s) => s.ms)), 1),
    unbundled_min_ms: round(Math.min(...unbundled.map((s) => s.ms)), 1),
    functions,
  };
}
