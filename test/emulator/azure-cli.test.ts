import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { AzureCliCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';

const execFileAsync = promisify(execFile);
const AZURE_CLI_APP_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

let emulator: Emulator;
const savedPath = process.env.PATH;

beforeAll(async () => {
  emulator = await startEmulator();
  process.env.PATH = [emulator.azBinDir, savedPath].join(path.delimiter);
});

afterEach(async () => {
  await emulator.admin.reset();
});

afterAll(async () => {
  process.env.PATH = savedPath;
  await emulator.close();
});

describe('AzureCliCredential with the emulated az on PATH', () => {
  it('gets the developer’s token for Azure OpenAI, one az run per call', async () => {
    const before = (await emulator.admin.stats()).azCalls;
    const token = await new AzureCliCredential().getToken('https://cognitiveservices.azure.com/.default');
    expect(decodeJwt(token.token)).toMatchObject({
      aud: 'https://cognitiveservices.azure.com',
      oid: emulator.principals.developer.objectId,
      appid: AZURE_CLI_APP_ID,
      tid: emulator.tenantId,
      idtyp: 'user',
    });
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3500_000);
    expect((await emulator.admin.stats()).azCalls - before).toBe(1);
  });

  it('accepts the logged-in tenant and refuses any other', async () => {
    const pinned = await new AzureCliCredential({ tenantId: emulator.tenantId }).getToken(
      'https://management.azure.com/.default',
    );
    expect(decodeJwt(pinned.token).tid).toBe(emulator.tenantId);

    const otherTenant = randomUUID();
    await expect(
      new AzureCliCredential({ tenantId: otherTenant }).getToken('https://management.azure.com/.default'),
    ).rejects.toMatchObject({
      name: 'CredentialUnavailableError',
      message: expect.stringContaining(`Tenant '${otherTenant}' not found`) as unknown,
    });
  });

  it("tells the developer to run 'az login' when az is logged out", async () => {
    await emulator.admin.setAzLoggedIn(false);
    await expect(
      new AzureCliCredential().getToken('https://cognitiveservices.azure.com/.default'),
    ).rejects.toThrow("Please run 'az login'");
  });
});

describe('the az script itself', () => {
  const az = (): string => path.join(emulator.azBinDir, 'az');
  const args = [
    'account',
    'get-access-token',
    '--output',
    'json',
    '--resource',
    'https://cognitiveservices.azure.com',
  ];

  it.each([
    ['the system node (no npm scripts on PATH)', ['/usr/local/bin', '/usr/bin', '/bin']],
    ['the project’s Node 22', [path.resolve('node_modules/.bin'), '/usr/bin', '/bin']],
  ])('prints az’s JSON with %s, from any directory, without a shell', async (_label, pathDirs) => {
    const { stdout } = await execFileAsync(az(), args, {
      cwd: '/',
      env: { PATH: [emulator.azBinDir, ...pathDirs].join(path.delimiter) },
    });
    const answer = JSON.parse(stdout) as Record<string, unknown>;
    expect(answer).toMatchObject({
      subscription: emulator.subscriptionId,
      tenant: emulator.tenantId,
      tokenType: 'Bearer',
    });
    expect(typeof answer.accessToken).toBe('string');
    expect(answer.expiresOn).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
    const expiresOn = answer.expires_on as number;
    expect(Number.isInteger(expiresOn)).toBe(true);
    // expiresOn is local time: parsed without a zone it must name the same instant as expires_on.
    const localInstant = new Date(String(answer.expiresOn).replace(' ', 'T')).getTime() / 1000;
    expect(Math.abs(localInstant - expiresOn)).toBeLessThan(1);
  });

  it('fails with exit code 1 and an ERROR line for commands it does not emulate', async () => {
    await expect(execFileAsync(az(), ['group', 'list'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^ERROR: /) as unknown,
    });
  });

  it('prints the not-logged-in message on stderr with exit code 1', async () => {
    await emulator.admin.setAzLoggedIn(false);
    await expect(execFileAsync(az(), args)).rejects.toMatchObject({
      code: 1,
      stdout: '',
      stderr: "ERROR: Please run 'az login' to setup account.\n",
    });
  });
});
