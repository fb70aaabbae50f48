import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * Bundles the chat page into a static folder: index.html, redirect.html, styles.css and assets/. MSAL is
 * split into its own chunk, loaded only when the page signs in with Microsoft Entra ID.
 */

export const PAGE_DIR = import.meta.dirname;
export const DEFAULT_OUTDIR = join(PAGE_DIR, '..', 'dist', 'chat');

export interface BuildOptions {
  outdir?: string;
  minify?: boolean;
  /** A config.json to place next to index.html; by default examples/chat/config.json when it exists. */
  configFile?: string;
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

export async function buildChatPage(options: BuildOptions = {}): Promise<string> {
  const outdir = options.outdir ?? DEFAULT_OUTDIR;
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: { app: join(PAGE_DIR, 'src/main.ts'), redirect: join(PAGE_DIR, 'src/redirect.ts') },
    outdir: join(outdir, 'assets'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox121', 'safari17'],
    minify: options.minify ?? true,
    sourcemap: 'linked',
    tsconfig: join(PAGE_DIR, 'tsconfig.json'),
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'redirect.html', 'styles.css']) {
    await copyFile(join(PAGE_DIR, file), join(outdir, file));
  }
  const configFile = options.configFile ?? join(PAGE_DIR, 'config.json');
  if (await exists(configFile)) await copyFile(configFile, join(outdir, 'config.json'));
  return outdir;
}

if (process.argv[1] === import.meta.filename) {
  buildChatPage({ minify: !process.argv.includes('--no-minify') }).then(
    (outdir) => {
      console.log(`Chat page built in ${outdir}`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
