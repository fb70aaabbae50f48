import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../tools/host/index';
import { buildHostApp, type HostAppFixture } from '../fixtures/buildHostApp';

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

describe('startHost in this process', () => {
  let fixture: HostAppFixture;
  let host: RunningHost;
  const output: string[] = [];

  beforeAll(async () => {
    fixture = await buildHostApp();
    host = await startHost({
      appRoot: fixture.appRoot,
      port: 0,
      loadLocalSettings: false,
      env: { FIXTURE_SETTING: 'from-options' },
      output: { stdout: (text) => output.push(text), stderr: (text) => output.push(text) },
    });
  });

  afterAll(async () => {
    await host.close();
    await fixture.remove();
  });

  it('reports what it serves: URL, route prefix, streaming and the registered HTTP functions', () => {
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(host.apiBaseUrl).toBe(`${host.url}/api`);
    expect(host.streaming).toBe(true);
    expect(host.functions.map((fn) => fn.name).sort()).toEqual(
      [
        'adminOnly',
        'boom',
        'echo',
        'flood',
        'items',
        'logs',
        'secret',
        'silent',
        'specialItem',
        'stream',
        'typedItem',
      ].sort(),
    );
    expect(host.functions.find((fn) => fn.name === 'secret')?.authLevel).toBe('function');
  });

  it('puts the env option into process.env before the app runs', async () => {
    const described = (await (await fetch(`${host.apiBaseUrl}/items/1`)).json()) as { setting: string };

    expect(described.setting).toBe('from-options');
    expect(output.join('')).toContain("Executed 'Functions.items' (Succeeded");
  });

  it('refuses a second app in the same process', async () => {
    await expect(startHost({ appRoot: fixture.appRoot, port: 0 })).rejects.toThrow(/already running/);
  });

  it('releases its port when closed', async () => {
    const port = Number(new URL(host.url).port);
    await host.close();

    expect(await portIsFree(port)).toBe(true);
    await expect(fetch(`${host.apiBaseUrl}/items/1`)).rejects.toThrow();
  });
});
