#!/usr/bin/env node
// Runs the Bicep CLI without a manual install: `bicep` on PATH, else the copy the Azure CLI manages
// (`az bicep`), else the Azure.Bicep.CommandLine NuGet package restored with `dotnet` into .cache/bicep/.
//
//   node tools/bicep.mjs build infra/main.bicep --outdir .cache/arm
//   npm run bicep -- build-params infra/main.bicepparam --stdout
//
// Environment: BICEP_VERSION picks the NuGet version (default below); BICEP_DEBUG=1 says which CLI runs.
import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import process from 'node:process';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The version restored from NuGet when no suitable CLI is installed; the one this repository is tested with. */
export const NUGET_BICEP_VERSION = '0.49.2';

/**
 * The oldest CLI the templates and tests are verified with (0.47.16, 0.48.1 and 0.49.2 are). Older ones lack
 * resource types or commands they use (`snapshot`), so an installed CLI below it is passed over for NuGet.
 */
export const MINIMUM_BICEP_VERSION = '0.47.16';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const defaultCacheDir = join(repoRoot, '.cache', 'bicep');

const RESTORE_TIMEOUT_MS = 10 * 60_000;
const PROBE_TIMEOUT_MS = 60_000;
const AZ_INSTALL_TIMEOUT_MS = 3 * 60_000;

/** No Bicep CLI could be found or obtained; `attempts` says what was tried and why each failed. */
export class BicepNotFoundError extends Error {
  /** @param {string[]} attempts */
  constructor(attempts) {
    super(
      [
        'No usable Bicep CLI was found. Tried:',
        ...attempts.map((attempt) => `  - ${attempt}`),
        'Install the Bicep CLI (https://aka.ms/bicep-install) or the .NET SDK (so this script can restore',
        `the Azure.Bicep.CommandLine package from NuGet), or run 'az bicep install'.`,
      ].join('\n'),
    );
    this.name = 'BicepNotFoundError';
    this.attempts = attempts;
  }
}

/**
 * Runs a program without a shell and collects its output. Never rejects for a non-zero exit.
 * @param {string} file
 * @param {readonly string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number }} [options]
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, error?: Error }>}
 */
export function run(file, args, options = {}) {
  return new Promise((resolvePromise) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 0,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolvePromise({ code: 0, stdout, stderr });
          return;
        }
        const code = typeof error.code === 'number' ? error.code : null;
        resolvePromise({ code, stdout, stderr, error });
      },
    );
  });
}

/**
 * The first executable named `name` on PATH, or undefined.
 * @param {string} name
 * @param {NodeJS.ProcessEnv} [env]
 */
export async function findOnPath(name, env = process.env) {
  const names = process.platform === 'win32' ? [`${name}.exe`, `${name}.cmd`, name] : [name];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const candidate of names) {
      const file = join(dir, candidate);
      if (await isExecutableFile(file)) return file;
    }
  }
  return undefined;
}

/** @param {string} file */
async function isExecutableFile(file) {
  try {
    const info = await stat(file);
    if (!info.isFile()) return false;
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Compares dotted versions numerically: negative when a < b.
 * @param {string} a
 * @param {string} b
 */
export function compareVersions(a, b) {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i += 1) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * The version a Bicep executable reports, or an explanation of why it could not be run.
 * @param {string} file
 * @returns {Promise<{ version: string } | { problem: string }>}
 */
export async function probeBicep(file) {
  const result = await run(file, ['--version'], { timeoutMs: PROBE_TIMEOUT_MS });
  const match = /(\d+\.\d+\.\d+)/.exec(result.stdout);
  if (result.code !== 0 || !match?.[1]) {
    const detail = (result.stderr || result.error?.message || result.stdout).trim().split('\n')[0] ?? '';
    return { problem: `${file} --version failed${detail ? `: ${detail}` : ''}` };
  }
  return { version: match[1] };
}

/**
 * The NuGet runtime identifier of this machine, or undefined where no Bicep package exists.
 * @param {NodeJS.Platform} [platform]
 * @param {string} [arch]
 */
export function nugetRuntimeId(platform = process.platform, arch = process.arch) {
  const os = { linux: 'linux', darwin: 'osx', win32: 'win' }[platform];
  const cpu = { x64: 'x64', arm64: 'arm64' }[arch];
  return os && cpu ? `${os}-${cpu}` : undefined;
}

/**
 * Where the restored executable of a version lives in the cache.
 * @param {string} version
 * @param {string} runtimeId
 * @param {string} [cacheDir]
 */
export function cachedBicepPath(version, runtimeId, cacheDir = defaultCacheDir) {
  return join(cacheDir, `${runtimeId}-${version}`, runtimeId.startsWith('win') ? 'bicep.exe' : 'bicep');
}

/**
 * Restores Azure.Bicep.CommandLine.<rid> from NuGet with a throwaway project and keeps only its executable.
 * Safe to run from several processes at once: each restores into its own folder and the first to finish
 * moves its executable into place.
 * @param {{ version?: string, cacheDir?: string, dotnet: string, log?: (line: string) => void }} options
 * @returns {Promise<string>} the executable's path
 */
export async function restoreFromNuget({
  version = NUGET_BICEP_VERSION,
  cacheDir = defaultCacheDir,
  dotnet,
  log = () => {},
}) {
  const runtimeId = nugetRuntimeId();
  if (!runtimeId) throw new Error(`no Bicep NuGet package exists for ${process.platform}-${process.arch}`);
  const target = cachedBicepPath(version, runtimeId, cacheDir);
  if (await isExecutableFile(target)) return target;

  const packageId = `Azure.Bicep.CommandLine.${runtimeId}`;
  const sdk = await run(dotnet, ['--version'], { timeoutMs: PROBE_TIMEOUT_MS });
  const sdkMajor = /^(\d+)\./.exec(sdk.stdout.trim())?.[1];
  if (sdk.code !== 0 || !sdkMajor)
    throw new Error(`'dotnet --version' failed: ${(sdk.stderr || sdk.stdout).trim()}`);

  await mkdir(cacheDir, { recursive: true });
  // NOTE: the project lives outside the repository so that no Directory.Build.props or NuGet.Config of a
  // parent folder changes the restore; the packages land next to the cache so the final move is a rename.
  const projectDir = await mkdtemp(join(tmpdir(), 'bicep-restore-'));
  const packagesDir = await mkdtemp(join(cacheDir, 'restore-'));
  const started = Date.now();
  log(
    `Restoring ${packageId} ${version} from NuGet into ${relative(process.cwd(), cacheDir) || '.'} (first run only)...`,
  );
  try {
    const project = join(projectDir, 'bicep-restore.csproj');
    await writeFile(
      project,
      [
        '<Project Sdk="Microsoft.NET.Sdk">',
        `  <PropertyGroup><TargetFramework>net${sdkMajor}.0</TargetFramework></PropertyGroup>`,
        `  <ItemGroup><PackageDownload Include="${packageId}" Version="[${version}]" /></ItemGroup>`,
        '</Project>',
        '',
      ].join('\n'),
    );
    const restore = await run(
      dotnet,
      ['restore', project, '--packages', packagesDir, '--verbosity', 'quiet'],
      {
        cwd: projectDir,
        timeoutMs: RESTORE_TIMEOUT_MS,
        env: {
          ...process.env,
          DOTNET_CLI_TELEMETRY_OPTOUT: '1',
          DOTNET_NOLOGO: '1',
          DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1',
        },
      },
    );
    if (restore.code !== 0) {
      const output = `${restore.stdout}\n${restore.stderr}`.trim().split('\n').slice(-8).join('\n');
      throw new Error(
        `'dotnet restore' of ${packageId} ${version} failed:\n${output || restore.error?.message || ''}`,
      );
    }
    const restored = join(
      packagesDir,
      packageId.toLowerCase(),
      version,
      'tools',
      target.endsWith('.exe') ? 'bicep.exe' : 'bicep',
    );
    if (!(await exists(restored))) {
      throw new Error(`${packageId} ${version} was restored but holds no tools/bicep executable`);
    }
    await chmod(restored, 0o755);
    await mkdir(dirname(target), { recursive: true });
    await rename(restored, target).catch(async (error) => {
      // NOTE: another process finished first; its executable is the same file.
      if (!(await isExecutableFile(target))) throw error;
    });
    log(`Restored Bicep CLI ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    return target;
  } finally {
    await rm(projectDir, { recursive: true, force: true });
    await rm(packagesDir, { recursive: true, force: true });
  }
}

/** @param {string} file */
async function exists(file) {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Bicep executable the Azure CLI manages, installing it through `az bicep install` when missing.
 * @param {string} az
 * @param {NodeJS.ProcessEnv} env
 */
async function azureCliBicep(az, env) {
  const configDir = env.AZURE_CONFIG_DIR ?? join(homedir(), '.azure');
  const file = join(configDir, 'bin', process.platform === 'win32' ? 'bicep.exe' : 'bicep');
  if (await isExecutableFile(file)) return file;
  const install = await run(az, ['bicep', 'install'], { env, timeoutMs: AZ_INSTALL_TIMEOUT_MS });
  if (install.code !== 0 || !(await isExecutableFile(file))) {
    const detail = (install.stderr || install.error?.message || '').trim().split('\n').slice(-1)[0] ?? '';
    throw new Error(`'az bicep install' did not provide ${file}${detail ? `: ${detail}` : ''}`);
  }
  return file;
}

/**
 * @typedef {{ path: string, version: string, source: 'path' | 'az' | 'nuget' }} BicepCli
 * @typedef {{ env?: NodeJS.ProcessEnv, cacheDir?: string, nugetVersion?: string, log?: (line: string) => void }} LocateOptions
 */

/**
 * Finds a usable Bicep CLI: `bicep` on PATH, else the Azure CLI's, else the NuGet package.
 * @param {LocateOptions} [options]
 * @returns {Promise<BicepCli>}
 */
export async function locateBicep(options = {}) {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const nugetVersion = options.nugetVersion ?? env.BICEP_VERSION ?? NUGET_BICEP_VERSION;
  /** @type {string[]} */
  const attempts = [];

  /** @param {string} file @param {'path' | 'az' | 'nuget'} source @returns {Promise<BicepCli | undefined>} */
  const accept = async (file, source) => {
    const probe = await probeBicep(file);
    if ('problem' in probe) {
      attempts.push(probe.problem);
      return undefined;
    }
    if (source !== 'nuget' && compareVersions(probe.version, MINIMUM_BICEP_VERSION) < 0) {
      attempts.push(`${file} is Bicep ${probe.version}; ${MINIMUM_BICEP_VERSION} or later is needed`);
      return undefined;
    }
    return { path: file, version: probe.version, source };
  };

  const onPath = await findOnPath('bicep', env);
  if (onPath) {
    const found = await accept(onPath, 'path');
    if (found) return found;
  } else {
    attempts.push("'bicep' is not on PATH");
  }

  const az = await findOnPath('az', env);
  if (az) {
    try {
      const found = await accept(await azureCliBicep(az, env), 'az');
      if (found) return found;
    } catch (error) {
      attempts.push(error instanceof Error ? error.message : String(error));
    }
  } else {
    attempts.push("'az' (Azure CLI) is not on PATH");
  }

  const dotnet = await findOnPath('dotnet', env);
  if (dotnet) {
    try {
      const restored = await restoreFromNuget({
        version: nugetVersion,
        cacheDir: options.cacheDir ?? defaultCacheDir,
        dotnet,
        log,
      });
      const found = await accept(restored, 'nuget');
      if (found) return found;
    } catch (error) {
      attempts.push(error instanceof Error ? error.message : String(error));
    }
  } else {
    attempts.push("'dotnet' (.NET SDK, to restore the NuGet package) is not on PATH");
  }

  throw new BicepNotFoundError(attempts);
}

/** @type {Map<string, Promise<BicepCli>>} */
const located = new Map();

/**
 * Like locateBicep, once per process and cache folder.
 * @param {LocateOptions} [options]
 */
export function getBicep(options = {}) {
  const key = options.cacheDir ?? defaultCacheDir;
  let found = located.get(key);
  if (!found) {
    found = locateBicep(options);
    // NOTE: a failure is not remembered, so a later call can succeed after the machine changes.
    found.catch(() => located.delete(key));
    located.set(key, found);
  }
  return found;
}

/**
 * Runs the Bicep CLI with the given arguments and collects its output.
 * @param {readonly string[]} args
 * @param {LocateOptions & { cwd?: string, timeoutMs?: number }} [options]
 */
export async function runBicep(args, options = {}) {
  const cli = await getBicep(options);
  const result = await run(cli.path, args, {
    cwd: options.cwd,
    env: options.env,
    timeoutMs: options.timeoutMs ?? 5 * 60_000,
  });
  return { ...result, cli };
}

async function main() {
  const log = (/** @type {string} */ line) => process.stderr.write(`${line}\n`);
  let cli;
  try {
    cli = await getBicep({ log });
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(127);
  }
  if (process.env.BICEP_DEBUG === '1') log(`Bicep CLI ${cli.version} (${cli.source}): ${cli.path}`);
  const child = spawn(cli.path, process.argv.slice(2), { stdio: 'inherit' });
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('error', (error) => {
    log(`Could not run ${cli.path}: ${error.message}`);
    process.exit(127);
  });
  child.on('exit', (code, signal) => {
    process.exit(code ?? (signal ? 128 : 1));
  });
}

// NOTE: imported by tests for its helpers; runs the CLI only when it is the script node was started with.
const entry = process.argv[1] ? await realpath(process.argv[1]).catch(() => process.argv[1]) : undefined;
if (entry === (await realpath(fileURLToPath(import.meta.url)))) await main();
