import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';

/**
 * What `func azure functionapp publish` uploads: every file under the app root that `.funcignore` accepts,
 * judged the way Core Tools judge it (a port of the `gitignore-parser` package, not git's own rules).
 * Consequences worth knowing: a file is accepted as soon as any `!` line matches it, whatever the order of
 * the lines; patterns match from the start of the path up to a word boundary, so `!dist/*.js` also accepts
 * `dist/index.js.map`; and a pattern without a folder (`*.map`) matches top-level files only.
 */

/** Skipped by Core Tools before any pattern is consulted. */
const SKIPPED_DIRECTORIES = new Set(['.git', '.vscode']);
const SKIPPED_FILES = new Set([
  '.funcignore',
  '.gitignore',
  'appsettings.json',
  'local.settings.json',
  'project.lock.json',
]);

export interface PublishedFile {
  /** Relative to the app root, with forward slashes. */
  path: string;
  bytes: number;
}

const toRegexSource = (pattern: string): string =>
  pattern
    .replace(/[-[\]/{}()+?.\\^$|]/g, '\\$&')
    .replaceAll('**', '(.+)')
    .replaceAll('*', '([^\\/]+)');

function union(patterns: readonly string[]): RegExp {
  if (patterns.length === 0) return /$^/;
  return new RegExp(`^((${[...patterns].sort().map(toRegexSource).join(')|(')}))\\b`);
}

/** Compiles `.funcignore` text into Core Tools' acceptance test for a relative path. */
export function compileFuncIgnore(text: string): (relativePath: string) => boolean {
  const excluded: string[] = [];
  const included: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const body = negated ? line.slice(1) : line;
    const pattern = body.startsWith('/') ? body.slice(1) : body;
    (negated ? included : excluded).push(pattern);
  }
  const deny = union(excluded);
  const accept = union(included);
  return (relativePath) => accept.test(relativePath) || !deny.test(relativePath);
}

async function walk(root: string, relative: string, into: string[]): Promise<void> {
  const entries = await readdir(path.join(root, relative), { withFileTypes: true });
  for (const entry of entries) {
    const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRECTORIES.has(entry.name)) await walk(root, child, into);
    } else if (entry.isFile() && !SKIPPED_FILES.has(entry.name)) {
      into.push(child);
    }
  }
}

/** The files a publish from `appRoot` would upload, with their sizes. */
export async function listPublishSet(appRoot: string): Promise<PublishedFile[]> {
  let rules = '';
  try {
    rules = await readFile(path.join(appRoot, '.funcignore'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const accepts = compileFuncIgnore(rules);
  const files: string[] = [];
  await walk(appRoot, '', files);
  const accepted = files.filter(accepts).sort();
  return Promise.all(
    accepted.map(async (file) => ({ path: file, bytes: (await stat(path.join(appRoot, file))).size })),
  );
}

/** Copies the publish set into `destination`, so it can run on its own, away from node_modules. */
export async function copyPublishSet(
  appRoot: string,
  files: readonly PublishedFile[],
  destination: string,
): Promise<void> {
  for (const file of files) {
    const target = path.join(destination, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(path.join(appRoot, file.path), target);
  }
}

/** The size of a zip of the publish set: deflated contents plus local and central directory records. */
export async function zipSizeEstimate(appRoot: string, files: readonly PublishedFile[]): Promise<number> {
  const LOCAL_HEADER = 30;
  const CENTRAL_HEADER = 46;
  const END_RECORD = 22;
  let total = END_RECORD;
  for (const file of files) {
    const content = await readFile(path.join(appRoot, file.path));
    const stored = Math.min(content.length, deflateRawSync(content).length);
    total += LOCAL_HEADER + CENTRAL_HEADER + 2 * Buffer.byteLength(file.path) + stored;
  }
  return total;
}

/** Total size of the files under `directory`, nested `node_modules` folders left out. */
export async function directoryBytes(directory: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  for (const entry of entries) {
    const child = path.join(directory, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') total += await directoryBytes(child);
    } else if (entry.isFile()) {
      total += (await stat(child)).size;
    }
  }
  return total;
}

/**
 * What an unbundled deployment would have to upload besides the compiled app: every installed package the
 * lockfile marks as a production dependency (not dev, not optional).
 */
export async function productionDependencyBytes(repoRoot: string): Promise<number> {
  const lock = JSON.parse(await readFile(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
  };
  let total = 0;
  for (const [location, entry] of Object.entries(lock.packages ?? {})) {
    if (!location.startsWith('node_modules/')) continue;
    if (entry.dev === true || entry.devOptional === true || entry.optional === true) continue;
    total += await directoryBytes(path.join(repoRoot, location));
  }
  return total;
}
