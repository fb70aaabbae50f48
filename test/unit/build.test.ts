import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureLoad, runProcess } from '../../bench/coldStart';
import { compileFuncIgnore } from '../../bench/publishSet';

/**
 * Facts about what ships: the bundle tools/build.mjs writes, and the files `func azure functionapp publish`
 * would upload from it under .funcignore (judged the way Core Tools judge it).
 */

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** A string only the ARM SDK's own code contains (its user-agent prefix). */
const ARM_SDK_MARKER = 'azsdk-js-arm-cognitiveservices';
const FUNCTION_COUNT = 8;
/** A string only the Azure Monitor exporter's code contains (the envelope name of a dependency). */
const EXPORTER_MARKER = 'Microsoft.ApplicationInsights.RemoteDependency';

let workDir: string;
let distDir: string;
let mapsDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'gateway-build-test-'));
  distDir = path.join(workDir, 'dist');
  mapsDir = path.join(workDir, 'maps');
  await runProcess(process.execPath, ['tools/build.mjs', '--outdir', distDir, '--sourcemap-dir', mapsDir], {
    cwd: repoRoot,
    timeoutMs: 120_000,
  });
}, 130_000);

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('the build', () => {
  it('writes the entry point and the ARM SDK chunk, and puts source maps outside dist/', async () => {
    const dist = await readdir(distDir);
    expect(dist).toEqual(expect.arrayContaining(['index.js', 'arm.js', 'telemetry.js']));
    expect(dist.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(await readdir(mapsDir)).toEqual(expect.arrayContaining(['index.js.map', 'arm.js.map']));
  });

  it("ships @azure/functions with the project's patch of its HTTP proxy (patches/, applied on install)", async () => {
    // NOTE: a message only the patched proxy has; without it client disconnects never reach the function.
    expect(await readFile(path.join(distDir, 'index.js'), 'utf8')).toContain(
      'The HTTP proxy connection closed before the response ended.',
    );
  });

  it('keeps the ARM SDK out of the entry point and in its own chunk', async () => {
    expect(await readFile(path.join(distDir, 'index.js'), 'utf8')).not.toContain(ARM_SDK_MARKER);
    expect(await readFile(path.join(distDir, 'arm.js'), 'utf8')).toContain(ARM_SDK_MARKER);
  });

  it('keeps OpenTelemetry and the Azure Monitor exporter out of the entry point, in their own chunk', async () => {
    const entry = await readFile(path.join(distDir, 'index.js'), 'utf8');
    expect(entry).not.toContain(EXPORTER_MARKER);
    expect(entry).not.toContain('@opentelemetry');
    expect(await readFile(path.join(distDir, 'telemetry.js'), 'utf8')).toContain(EXPORTER_MARKER);
    const script = `import(process.argv[1]).then((m) => process.stdout.write(typeof m.startAzureMonitor))`;
    const { stdout } = await runProcess(
      process.execPath,
      ['-e', script, path.join(distDir, 'telemetry.js')],
      {
        cwd: workDir,
        timeoutMs: 30_000,
      },
    );
    expect(stdout).toBe('function');
  });

  it('keeps the Redis client of the shared limits out of the entry point, in its own chunk', async () => {
    const entry = await readFile(path.join(distDir, 'index.js'), 'utf8');
    // NOTE: a string only node-redis's own code contains (the command that names a client connection).
    expect(entry).not.toContain('CLIENT","SETNAME');
    expect(await readFile(path.join(distDir, 'redis.js'), 'utf8')).toContain('CLIENT","SETNAME');
    const script = `import(process.argv[1]).then((m) => process.stdout.write(typeof m.connectRedis))`;
    const { stdout } = await runProcess(process.execPath, ['-e', script, path.join(distDir, 'redis.js')], {
      cwd: workDir,
      timeoutMs: 30_000,
    });
    expect(stdout).toBe('function');
  });

  it('loads the entry point and registers every function without the ARM SDK, telemetry or Redis chunk present', async () => {
    const alone = path.join(workDir, 'entry-only');
    await mkdir(alone);
    await copyFile(path.join(distDir, 'index.js'), path.join(alone, 'index.js'));
    const loaded = await measureLoad(process.execPath, path.join(alone, 'index.js'), alone);
    expect(loaded.functions).toBe(FUNCTION_COUNT);
  });

  it('gives the ARM SDK chunk the export the app imports from it', async () => {
    const script = `import(process.argv[1]).then((m) => process.stdout.write(typeof m.CognitiveServicesManagementClient))`;
    const { stdout } = await runProcess(process.execPath, ['-e', script, path.join(distDir, 'arm.js')], {
      cwd: workDir,
      timeoutMs: 30_000,
    });
    expect(stdout).toBe('function');
  });
});

describe('the deploy package', () => {
  it('is the bundle, host.json and package.json, without source maps', async () => {
    const accepts = compileFuncIgnore(await readFile(path.join(repoRoot, '.funcignore'), 'utf8'));
    const built = (await readdir(distDir)).map((file) => `dist/${file}`);
    const candidates = [
      ...built,
      '.cache/sourcemaps/index.js.map',
      'src/index.ts',
      'src/lib/gateway.ts',
      'node_modules/openai/index.js',
      'node_modules/@azure/functions/package.json',
      'package-lock.json',
      'tools/build.mjs',
      'test/unit/build.test.ts',
      'bench/run.ts',
      'infra/main.bicep',
      'host.json',
      'package.json',
    ];
    expect(candidates.filter(accepts).sort()).toEqual([...built, 'host.json', 'package.json'].sort());
  });

  it('would ship anything written into dist/, which is why the build writes maps elsewhere', async () => {
    const accepts = compileFuncIgnore(await readFile(path.join(repoRoot, '.funcignore'), 'utf8'));
    expect(accepts('dist/index.js.map')).toBe(true);
  });
});

describe('.funcignore matching as Core Tools do it', () => {
  it('accepts a file when any negated line matches it, whatever the order', () => {
    const accepts = compileFuncIgnore('*\n!dist/**\ndist/*.map\n');
    expect(accepts('dist/index.js.map')).toBe(true);
    expect(accepts('src/index.ts')).toBe(false);
  });

  it('matches a pattern without a folder at the top level only', () => {
    const accepts = compileFuncIgnore('*.map\n');
    expect(accepts('index.js.map')).toBe(false);
    expect(accepts('dist/index.js.map')).toBe(true);
  });

  it('matches patterns as path prefixes up to a word boundary', () => {
    const accepts = compileFuncIgnore('*\n!dist/*.js\n');
    expect(accepts('dist/index.js')).toBe(true);
    expect(accepts('dist/index.js.map')).toBe(true);
    expect(accepts('dist/index.json')).toBe(false);
  });
});
