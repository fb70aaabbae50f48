import { readFile } from 'node:fs/promises';

/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and splits its self time by where the code lives: Node.js
 * internals, each dependency under node_modules, the app's bundle, tools/host, and V8's own entries
 * (idle, garbage collection, program).
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShare {
  category: string;
  ms: number;
  /** Share of the profile's whole duration, idle included. */
  share: number;
}

export interface ProfileSummary {
  durationMs: number;
  /** Busy time: everything but `(idle)`. */
  busyMs: number;
  categories: ProfileShare[];
  /** The functions with the most self time, outside idle. */
  topFunctions: (ProfileShare & { function: string })[];
}

const packagePattern = /node_modules\/((?:@[^/]+\/)?[^/]+)/;

/** The bucket a call frame's self time goes to. */
export function categorize(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(garbage collector)') return 'garbage collection';
    if (functionName === '(program)') return 'V8 and native code (program)';
    return 'native and built-ins';
  }
  if (url.startsWith('node:')) {
    const module = url.slice('node:'.length);
    if (/^internal\/deps\/undici/.test(module)) return 'fetch (undici, in Node.js)';
    if (/http|stream|net|tcp|_http|dns|socket/.test(module)) return 'Node.js HTTP, sockets and streams';
    return 'Node.js other (timers, events, crypto, …)';
  }
  const dependency = packagePattern.exec(url)?.[1];
  if (dependency) return dependency;
  if (url.includes('/tools/host/')) return 'tools/host';
  if (url.includes('/dist/')) return 'the app (dist bundle)';
  if (url.includes('/src/')) return 'the app (src)';
  return 'other';
}

/** Monotonic-clock microseconds, the clock of V8's profiles and of `process.hrtime` in every process. */
export const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * Self time per category over the samples taken within `window` (monotonic microseconds, from
 * `monotonicMicros()` in any process on the machine), or over the whole profile.
 */
export function summarizeProfile(
  profile: CpuProfile,
  window?: { fromUs: number; toUs: number },
  top = 15,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const fromUs = window?.fromUs ?? profile.startTime;
  const toUs = window?.toUs ?? profile.endTime;
  let at = profile.startTime;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    if (at < fromUs || at > toUs) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const durationUs = Math.min(toUs, profile.endTime) - Math.max(fromUs, profile.startTime);
  const categories = new Map<string, number>();
  const functions = new Map<string, { category: string; us: number }>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const category = categorize(frame.url, frame.functionName);
    categories.set(category, (categories.get(category) ?? 0) + us);
    if (category === 'idle') continue;
    const where = frame.url.replace(/^.*node_modules\//, '').replace(/^.*\/(tools|src|dist)\//, '$1/');
    const key = `${frame.functionName || '(anonymous)'} ${where}`;
    const entry = functions.get(key) ?? { category, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const ms = (us: number) => Math.round(us / 10) / 100;
  const share = (us: number) => Math.round((us / durationUs) * 1000) / 1000;
  return {
    durationMs: ms(durationUs),
    busyMs: ms(durationUs - (categories.get('idle') ?? 0)),
    categories: [...categories.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([category, us]) => ({ category, ms: ms(us), share: share(us) })),
    topFunctions: [...functions.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([fn, { category, us }]) => ({ function: fn, category, ms: ms(us), share: share(us) })),
  };
}

export async function readProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}
