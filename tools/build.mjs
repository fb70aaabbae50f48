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

/** The chunk the entry point imports the ARM SDK from, next to it in dist/. */
const ARM_CHUNK = './arm.js';

// NOTE: src/lib/upstream/armClient.ts imports the SDK dynamically; resolving it to a sibling file keeps that import
// dynamic in the output, so the SDK is neither parsed nor evaluated until a model listing runs.
// NOTE: the same for OpenTelemetry and the Azure Monitor exporter: loaded only when telemetry is configured.
const TELEMETRY_CHUNK = './telemetry.js';
const telemetryAsChunk = {
  name: 'telemetry-as-chunk',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\/azureMonitor$/ }, () => ({
      path: TELEMETRY_CHUNK,
      external: true,
    }));
  },
};

// NOTE: and for the Redis client (node-redis, @redis/entraid): loaded only when LIMITS_STORE is redis.
const REDIS_CHUNK = './redis.js';
const redisAsChunk = {
  name: 'redis-as-chunk',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\/redisDriver$/ }, () => ({
      path: REDIS_CHUNK,
      external: true,
    }));
  },
};

const armAsChunk = {
  name: 'arm-sdk-as-chunk',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^@azure\/arm-cognitiveservices$/ }, () => ({
      path: ARM_CHUNK,
      external: true,
    }));
  },
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
    plugins: [armAsChunk, telemetryAsChunk, redisAsChunk],
  }),
  build({ ...common, entryPoints: { redis: 'src/lib/caller/redisDriver.ts' } }),
  build({ ...common, entryPoints: { telemetry: 'src/lib/telemetry/azureMonitor.ts' } }),
  build({ ...common, entryPoints: { arm: '@azure/arm-cognitiveservices' } }),
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
