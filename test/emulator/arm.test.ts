import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import { ManagedIdentityCredential } from '@azure/identity';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';
import { armGet, COGNITIVE_SERVICES, MANAGEMENT, serviceToken, pointIdentityAt } from './emulator-requests';

const execFileAsync = promisify(execFile);
const CATALOG_SIZE = 9;

let emulator: Emulator;
let client: CognitiveServicesManagementClient;
let restoreIdentity: () => void;

beforeAll(async () => {
  emulator = await startEmulator();
  restoreIdentity = pointIdentityAt(emulator);
  client = new CognitiveServicesManagementClient(
    new ManagedIdentityCredential({ retryOptions: { maxRetries: 0 } }),
    emulator.subscriptionId,
    {
      endpoint: emulator.urls.arm,
      credentialScopes: ['https://management.azure.com/.default'],
      tlsOptions: { ca: await readFile(emulator.caCertPath, 'utf8') },
      retryOptions: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 2_000 },
    },
  );
});

afterEach(async () => {
  await emulator.admin.reset();
});

afterAll(async () => {
  restoreIdentity();
  await emulator.close();
});

async function all<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of pages) items.push(item);
  return items;
}

describe('CognitiveServicesManagementClient against the emulated ARM', () => {
  it('lists the region catalog across every page', async () => {
    await emulator.admin.resetStats();
    const models = await all(client.models.list('swedencentral'));
    expect(models).toHaveLength(CATALOG_SIZE);
    expect((await emulator.admin.stats()).armCalls).toBe(Math.ceil(CATALOG_SIZE / 2));

    const names = new Set(models.map((item) => item.model?.name));
    expect([...names].sort()).toEqual(
      [
        'gpt-4.1',
        'gpt-4.1-mini',
        'gpt-4.1-nano',
        'gpt-4o',
        'gpt-4o-mini',
        'o4-mini',
        'text-embedding-3-large',
        'text-embedding-3-small',
      ].sort(),
    );
    const mini = models.find((item) => item.model?.name === 'gpt-4o-mini');
    expect(mini).toMatchObject({
      kind: 'OpenAI',
      skuName: 'S0',
      model: {
        format: 'OpenAI',
        version: '2024-07-18',
        isDefaultVersion: true,
        lifecycleStatus: 'GenerallyAvailable',
        capabilities: { chatCompletion: 'true' },
        skus: [
          { name: 'GlobalStandard', usageName: 'OpenAI.GlobalStandard.gpt-4o-mini' },
          { name: 'Standard', usageName: 'OpenAI.Standard.gpt-4o-mini' },
        ],
      },
    });
    expect(mini?.model?.deprecation?.inference).toBe('2027-02-27T00:00:00Z');
    expect(
      models.find((item) => item.model?.name === 'text-embedding-3-small')?.model?.capabilities,
    ).toMatchObject({ embeddings: 'true' });
  });

  it('lists the account’s deployments with model, sku and state', async () => {
    const deployments = await all(client.deployments.list(emulator.resourceGroup, emulator.accountName));
    expect(deployments.map((deployment) => deployment.name)).toEqual([
      'gpt-4o-mini',
      'gpt-4o',
      'gpt-4.1-nano',
      'o4-mini',
      'text-embedding-3-small',
    ]);
    expect(deployments[0]).toMatchObject({
      id: `/subscriptions/${emulator.subscriptionId}/resourceGroups/${emulator.resourceGroup}/providers/Microsoft.CognitiveServices/accounts/${emulator.accountName}/deployments/gpt-4o-mini`,
      type: 'Microsoft.CognitiveServices/accounts/deployments',
      sku: { name: 'GlobalStandard', capacity: 100 },
      properties: {
        model: { format: 'OpenAI', name: 'gpt-4o-mini', version: '2024-07-18' },
        provisioningState: 'Succeeded',
        raiPolicyName: 'Microsoft.DefaultV2',
        versionUpgradeOption: 'OnceNewDefaultVersionAvailable',
        capabilities: { chatCompletion: 'true' },
      },
    });
    expect(deployments[0]?.systemData?.createdAt).toBeInstanceOf(Date);

    const one = await client.deployments.get(emulator.resourceGroup, emulator.accountName, 'gpt-4o');
    expect(one.properties?.model?.version).toBe('2024-11-20');
  });

  it('lists the account’s models flat, and reads the account', async () => {
    const models = await all(client.accounts.listModels(emulator.resourceGroup, emulator.accountName));
    expect(models).toHaveLength(CATALOG_SIZE);
    expect(models[0]).toMatchObject({
      format: 'OpenAI',
      name: 'gpt-4o',
      version: '2024-08-06',
      lifecycleStatus: 'Deprecating',
    });

    const account = await client.accounts.get(emulator.resourceGroup, emulator.accountName);
    expect(account).toMatchObject({
      kind: 'OpenAI',
      location: emulator.location,
      properties: { disableLocalAuth: true },
    });
  });

  it('rejects an unknown account, deployment or resource group with the RestError codes ARM uses', async () => {
    await expect(
      all(client.deployments.list(emulator.resourceGroup, 'no-such-account')),
    ).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
    await expect(
      client.deployments.get(emulator.resourceGroup, emulator.accountName, 'no-such-deployment'),
    ).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
    await expect(all(client.deployments.list('no-such-rg', emulator.accountName))).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceGroupNotFound',
    });
  });

  it('surfaces AuthorizationFailed when the identity lacks the read', async () => {
    await emulator.admin.removeRole(emulator.principals.systemAssigned.objectId, 'Reader');
    await expect(all(client.models.list('eastus'))).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
    });
  });

  it('retries an injected 429 after its Retry-After and then succeeds', async () => {
    await emulator.admin.setFault({ kind: 'status', target: 'arm', status: 429, count: 1 });
    await emulator.admin.resetStats();
    const deployments = await all(client.deployments.list(emulator.resourceGroup, emulator.accountName));
    expect(deployments).toHaveLength(5);
    expect((await emulator.admin.stats()).armCalls).toBe(1 + 3);
  });
});

describe('the ARM wire', () => {
  const catalogPath = (): string =>
    `/subscriptions/${emulator.subscriptionId}/providers/Microsoft.CognitiveServices/locations/${emulator.location}/models`;

  it('pages with an absolute nextLink on its own origin that carries the api-version', async () => {
    const token = await serviceToken(emulator, MANAGEMENT);
    const first = await armGet(emulator, `${catalogPath()}?api-version=2025-09-01`, token);
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    const page = first.body as { value: unknown[]; nextLink: string };
    expect(page.value).toHaveLength(2);
    const next = new URL(page.nextLink);
    expect(next.origin).toBe(emulator.urls.arm);
    expect(next.searchParams.get('api-version')).toBe('2025-09-01');
    expect(next.searchParams.get('$skipToken')).toBeTruthy();

    const second = await armGet(emulator, page.nextLink, token);
    expect((second.body as { value: unknown[] }).value).toHaveLength(2);
  });

  it('requires the api-version query parameter', async () => {
    const answer = await armGet(emulator, catalogPath(), await serviceToken(emulator, MANAGEMENT));
    expect(answer.status).toBe(400);
    expect(answer.body).toHaveProperty('error.code', 'MissingApiVersionParameter');
  });

  it('answers 401 with a Bearer challenge for a missing token, the data-plane audience or an expired token', async () => {
    const missing = await armGet(emulator, `${catalogPath()}?api-version=2025-09-01`);
    expect(missing.status).toBe(401);
    expect(missing.body).toHaveProperty('error.code', 'AuthenticationFailed');
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer authorization_uri=/);

    const wrongAudience = await armGet(
      emulator,
      `${catalogPath()}?api-version=2025-09-01`,
      await serviceToken(emulator, COGNITIVE_SERVICES),
    );
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.body).toHaveProperty('error.code', 'InvalidAuthenticationToken');

    const expiredToken = await emulator.mintCallerToken({
      claims: { aud: MANAGEMENT },
      expiresInSeconds: -60,
    });
    const expired = await armGet(emulator, `${catalogPath()}?api-version=2025-09-01`, expiredToken);
    expect(expired.body).toHaveProperty('error.code', 'ExpiredAuthenticationToken');
  });

  it('refuses a region the catalog is not offered in with 400 NoRegisteredProviderFound, as ARM does', async () => {
    const token = await serviceToken(emulator, MANAGEMENT);
    const unknown = `/subscriptions/${emulator.subscriptionId}/providers/Microsoft.CognitiveServices/locations/atlantis/models?api-version=2025-09-01`;
    const answer = await armGet(emulator, unknown, token);
    expect(answer.status).toBe(400);
    const error = (answer.body as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('NoRegisteredProviderFound');
    expect(error.message).toMatch(
      /^No registered resource provider found for location 'atlantis' and API version '2025-09-01' for type 'locations\/models'\. The supported api-versions are '[^']+'\. The supported locations are '[^']*\beastus2\b[^']*'\.$/,
    );

    const spaced = await armGet(
      emulator,
      catalogPath().replace(emulator.location, 'West%20Europe') + '?api-version=2025-09-01',
      token,
    );
    expect(spaced.status).toBe(200);
  });

  it('surfaces an unknown region to the SDK as a RestError with the ARM code', async () => {
    await expect(all(client.models.list('atlantis'))).rejects.toMatchObject({
      statusCode: 400,
      code: 'NoRegisteredProviderFound',
    });
  });

  it('answers SubscriptionNotFound for another subscription', async () => {
    const answer = await armGet(
      emulator,
      `/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.CognitiveServices/locations/eastus/models?api-version=1`,
      await serviceToken(emulator, MANAGEMENT),
    );
    expect(answer.status).toBe(404);
    expect(answer.body).toHaveProperty('error.code', 'SubscriptionNotFound');
  });

  it('is trusted by a fresh Node process through NODE_EXTRA_CA_CERTS', async () => {
    const script = `fetch(${JSON.stringify(`${emulator.urls.arm}${catalogPath()}?api-version=1`)}).then((r) => console.log(r.status))`;
    const { stdout } = await execFileAsync(process.execPath, ['-e', script], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: emulator.caCertPath },
      timeout: 10_000,
    });
    expect(stdout.trim()).toBe('401');
  });
});
