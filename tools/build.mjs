// Bundles the app into dist/index.js: the Functions host loads one small file instead of walking node_modules.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

const minify = !process.argv.includes('--no-minify');
await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: { index: 'src/index.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify,
  sourcemap: 'linked',
  legalComments: 'external',
  // NOTE: provided by the Functions worker at run time, never bundled.
  external: ['@azure/functions-core'],
  logLevel: 'warning',
});
