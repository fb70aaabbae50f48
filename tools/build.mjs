// Bundles the app into dist/: the Functions host loads two small files instead of walking node_modules.
//
//   dist/index.js  the entry point: every function and what they need on their first request
//   dist/arm.js    the Azure Resource Manager SDK, read only when a model listing first needs it
//   dist/telemetry.js  OpenTelemetry and the Azure Monitor exporter, read only when telemetry is configured
//   dist/redis.js  the Redis client of the shared limits, read only when LIMITS_STORE is redis
//
// Source maps go to .cache/sourcemaps/, never into dist/: func's .funcignore matching accepts every file under
// a re-included folder (a `!dist/**` line beats any later exclusion), so a map in dist/ would ship.
//
//   node tools/build.mjs [--no-minify] [--outdir dist] [--sourcemap-dir .cache/sourcemaps]
import { build } from 'esbuild';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'no-minify': { type: 'boolean', default: false },
    outdir: { type: 'string', default: 'dist' },
    'sourcemap-dir': { type: 'string', default: path.join('.cache', 'sourcemaps') },
  },
  strict: true,
});
const outdir = path.resolve(values.outdir);
const sourcemapDir = path.resolve(values['sourcemap-dir']);

/**
 * Keeps a dynamic import dynamic in the output: `import(specifier)` in src/ is resolved to a sibling chunk in
 * dist/ that is built on its own, so its code is neither parsed nor evaluated until the app first needs it.
 */
const asChunk = (specifier, chunk) => ({
  name: `${chunk}-as-chunk`,
  setup(pluginBuild) {
    const filter = new RegExp(`^${specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
    pluginBuild.onResolve({ filter }, () => ({ path: `./${chunk}.js`, external: true }));
  },
});

/** The lazily loaded parts: each chunk's import in src/, and the module the chunk is built from. */
const chunks = {
  // NOTE: src/lib/upstream/armClient.ts: only when a model listing first runs.
  arm: { specifier: '@azure/arm-cognitiveservices', entry: '@azure/arm-cognitiveservices' },
  // NOTE: src/lib/telemetry/startTelemetry.ts: OpenTelemetry and the exporter, only when telemetry is configured.
  telemetry: { specifier: './azureMonitor', entry: 'src/lib/telemetry/azureMonitor.ts' },
  // NOTE: src/lib/caller/redisLimiter.ts: node-redis and @redis/entraid, only when LIMITS_STORE is redis.
  redis: { specifier: './redisDriver', entry: 'src/lib/caller/redisDriver.ts' },
};

const common = {
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: !values['no-minify'],
  sourcemap: 'external',
  legalComments: 'external',
  // NOTE: provided by the Functions worker at run time, never bundled.
  external: ['@azure/functions-core'],
  logLevel: 'warning',
  write: false,
};

const results = await Promise.all([
  build({
    ...common,
    entryPoints: { index: 'src/index.ts' },
    plugins: Object.entries(chunks).map(([chunk, { specifier }]) => asChunk(specifier, chunk)),
  }),
  ...Object.entries(chunks).map(([chunk, { entry }]) =>
    build({ ...common, entryPoints: { [chunk]: entry } }),
  ),
]);

await Promise.all([
  rm(outdir, { recursive: true, force: true }),
  rm(sourcemapDir, { recursive: true, force: true }),
]);
await Promise.all([mkdir(outdir, { recursive: true }), mkdir(sourcemapDir, { recursive: true })]);
const files = results.flatMap((result) => result.outputFiles);
await Promise.all(
  files.map((file) => {
    const target = file.path.endsWith('.map') ? path.join(sourcemapDir, path.basename(file.path)) : file.path;
    return writeFile(target, file.contents);
  }),
);
