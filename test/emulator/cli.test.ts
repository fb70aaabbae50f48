import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const TSX = path.resolve('node_modules/tsx/dist/cli.mjs');

describe('npm run emulator', () => {
  it('prints the app settings and a caller token, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [TSX, 'tools/emulator/cli.ts', '--port', '0'], {
      env: { ...process.env, EMULATOR_ARM_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit');
    let output = '';
    child.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no settings printed within 15 s:\n${output}`));
      }, 15_000);
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('EMULATOR_ADMIN_URL=')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await ready;

    const settings = Object.fromEntries(
      output
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(settings.AZURE_OPENAI_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(settings.AZURE_ARM_ENDPOINT).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(settings.IDENTITY_HEADER).toBeTruthy();
    expect(settings.EMULATOR_CALLER_TOKEN?.split('.')).toHaveLength(3);

    const info = await fetch(`${settings.EMULATOR_ADMIN_URL ?? ''}/info`);
    expect(((await info.json()) as { tenantId: string }).tenantId).toBe(settings.AZURE_TENANT_ID);

    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
  });
});
