import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BicepNotFoundError,
  MINIMUM_BICEP_VERSION,
  NUGET_BICEP_VERSION,
  cachedBicepPath,
  compareVersions,
  getBicep,
  locateBicep,
  nugetRuntimeId,
  repoRoot,
  run,
} from '../../tools/bicep.mjs';

describe('tools/bicep.mjs', () => {
  let emptyDir: string;

  beforeAll(async () => {
    emptyDir = await mkdtemp(join(tmpdir(), 'no-tools-'));
  });

  afterAll(async () => {
    await rm(emptyDir, { recursive: true, force: true });
  });

  it('compares versions numerically, not as text', () => {
    expect(compareVersions('0.49.2', '0.47.16')).toBeGreaterThan(0);
    expect(compareVersions('0.9.0', '0.10.0')).toBeLessThan(0);
    expect(compareVersions('1.0', '1.0.0')).toBe(0);
    expect(compareVersions(NUGET_BICEP_VERSION, MINIMUM_BICEP_VERSION)).toBeGreaterThanOrEqual(0);
  });

  it('maps platforms to the NuGet runtime ids the Bicep packages exist for', () => {
    expect(nugetRuntimeId('linux', 'x64')).toBe('linux-x64');
    expect(nugetRuntimeId('darwin', 'arm64')).toBe('osx-arm64');
    expect(nugetRuntimeId('win32', 'x64')).toBe('win-x64');
    expect(nugetRuntimeId('aix', 'ppc64')).toBeUndefined();
  });

  it('keeps restored executables in the gitignored cache, one folder per version', () => {
    expect(cachedBicepPath('0.49.2', 'linux-x64')).toBe(
      join(repoRoot, '.cache', 'bicep', 'linux-x64-0.49.2', 'bicep'),
    );
    expect(cachedBicepPath('0.49.2', 'win-x64', '/c')).toBe(join('/c', 'win-x64-0.49.2', 'bicep.exe'));
  });

  it('says what it tried and what to install when no way to get Bicep exists', async () => {
    const attempt = locateBicep({
      env: { PATH: emptyDir, HOME: emptyDir },
      cacheDir: join(emptyDir, 'cache'),
    });
    await expect(attempt).rejects.toBeInstanceOf(BicepNotFoundError);
    await expect(attempt).rejects.toThrow(/'bicep' is not on PATH/);
    await expect(attempt).rejects.toThrow(/'az' \(Azure CLI\) is not on PATH/);
    await expect(attempt).rejects.toThrow(/'dotnet' .* is not on PATH/);
    await expect(attempt).rejects.toThrow(/Install the Bicep CLI/);
  });

  it(
    'finds a working Bicep CLI on this machine and runs it',
    async () => {
      const cli = await getBicep();
      expect(compareVersions(cli.version, MINIMUM_BICEP_VERSION)).toBeGreaterThanOrEqual(0);
      const result = await run(cli.path, ['--version']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Bicep CLI version ${cli.version}`);
    },
    15 * 60_000,
  );

  it(
    'runs as a command that passes its arguments and exit code through',
    async () => {
      const ok = await run(process.execPath, [join(repoRoot, 'tools', 'bicep.mjs'), '--version']);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/^Bicep CLI version \d+\.\d+\.\d+/);
      const bad = await run(process.execPath, [
        join(repoRoot, 'tools', 'bicep.mjs'),
        'build',
        join(emptyDir, 'missing.bicep'),
      ]);
      expect(bad.code).not.toBe(0);
    },
    15 * 60_000,
  );
});
