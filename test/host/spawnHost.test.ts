import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnHost } from '../../tools/host/index';
import { buildHostApp } from '../fixtures/buildHostApp';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('spawnHost', () => {
  it('gives the app only the environment it was given and stops the process on close', async () => {
    const fixture = await buildHostApp();
    process.env.FIXTURE_SETTING = 'from-the-test-process';
    const host = await spawnHost({ appRoot: fixture.appRoot, env: { FIXTURE_OVERRIDE: 'given' } });
    delete process.env.FIXTURE_SETTING;
    try {
      const described = (await (await fetch(`${host.apiBaseUrl}/items/1`)).json()) as {
        setting: string | null;
        override: string | null;
      };

      expect(described).toMatchObject({ setting: null, override: 'given' });
      expect(isRunning(host.pid)).toBe(true);
    } finally {
      await host.close();
      await fixture.remove();
    }
    expect(isRunning(host.pid)).toBe(false);
    await expect(host.exited).resolves.toMatchObject({ code: 0 });
  });

  it('rejects with the host output when the app cannot start', async () => {
    const appRoot = await mkdtemp(path.join(tmpdir(), 'host-broken-'));
    await writeFile(path.join(appRoot, 'package.json'), JSON.stringify({ name: 'broken' }));
    try {
      await expect(spawnHost({ appRoot, env: {} })).rejects.toThrow(
        /exited \(code 1\) before it was listening[\s\S]*has no "main"/,
      );
    } finally {
      await rm(appRoot, { recursive: true, force: true });
    }
  });
});
