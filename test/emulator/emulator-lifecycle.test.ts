import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, settingNames } from '../../src/lib/config';
import { startEmulator } from '../../tools/emulator/index';

const extraSettings = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'NODE_EXTRA_CA_CERTS', 'PATH'];

describe('startEmulator', () => {
  it('starts in well under a second and closes cleanly, twice if asked', async () => {
    const startedAt = performance.now();
    const emulator = await startEmulator();
    expect(performance.now() - startedAt).toBeLessThan(1000);
    await access(path.join(emulator.azBinDir, 'az'));
    expect((await stat(path.join(emulator.azBinDir, 'az'))).mode & 0o111).not.toBe(0);
    await expect(emulator.close()).resolves.toBeUndefined();
    await expect(emulator.close()).resolves.toBeUndefined();
    await expect(access(emulator.caCertPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives parallel emulators their own ports and identities', async () => {
    const [one, two] = await Promise.all([startEmulator(), startEmulator()]);
    expect(one.urls.base).not.toBe(two.urls.base);
    expect(one.urls.arm).not.toBe(two.urls.arm);
    expect(one.tenantId).not.toBe(two.tenantId);
    expect(new URL(one.urls.base).hostname).toBe('127.0.0.1');
    await Promise.all([one.close(), two.close()]);
  });
});

describe('appSettings', () => {
  it('is a complete, valid configuration for the gateway using managed identity', async () => {
    const emulator = await startEmulator();
    const settings = emulator.appSettings();
    const config = loadConfig(settings);
    expect(config).toMatchObject({
      openai: { endpoint: emulator.urls.openai, deployment: 'gpt-4o-mini', apiVersion: '2024-10-21' },
      arm: {
        endpoint: emulator.urls.arm,
        subscriptionId: emulator.subscriptionId,
        accountName: emulator.accountName,
      },
      credential: { kind: 'managedidentity', clientId: undefined },
      auth: {
        mode: 'entra',
        tenantId: emulator.tenantId,
        clientId: emulator.api.clientId,
        applicationIdUri: `api://${emulator.api.clientId}`,
        requiredScope: 'access_as_user',
        authorityHost: emulator.urls.authorityHost,
      },
    });
    expect(settings).toMatchObject({
      IDENTITY_ENDPOINT: emulator.urls.identity,
      IDENTITY_HEADER: emulator.identityHeader,
      NODE_EXTRA_CA_CERTS: emulator.caCertPath,
    });
    expect(settings).not.toHaveProperty('PATH');
    for (const name of Object.keys(settings)) {
      expect([...settingNames, ...extraSettings], name).toContain(name);
    }
    await emulator.close();
  });

  it('names the user-assigned identity, or puts az first on PATH for the Azure CLI credential', async () => {
    const emulator = await startEmulator();
    expect(loadConfig(emulator.appSettings({ userAssigned: true })).credential.clientId).toBe(
      emulator.principals.userAssigned.clientId,
    );

    const cli = emulator.appSettings({ credential: 'azurecli' });
    expect(loadConfig(cli).credential).toMatchObject({ kind: 'azurecli', tenantId: emulator.tenantId });
    expect(cli.PATH?.split(path.delimiter)[0]).toBe(emulator.azBinDir);
    expect(cli).not.toHaveProperty('IDENTITY_ENDPOINT');
    await emulator.close();
  });
});
