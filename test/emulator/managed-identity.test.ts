import { randomUUID } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';
import { pointIdentityAt } from './emulator-requests';

// NOTE: MSAL caches managed identity tokens and freezes the identity source process-wide, so this file keeps
// all ManagedIdentityCredential checks and gives each test its own identity/resource pair. The frozen source
// also keeps the first credential's HTTP pipeline, retry policy included: every credential here disables retries.
const noRetries = { retryOptions: { maxRetries: 0 } };

let emulator: Emulator;
let restoreIdentity: () => void;

beforeAll(async () => {
  emulator = await startEmulator();
  restoreIdentity = pointIdentityAt(emulator);
});

afterAll(async () => {
  restoreIdentity();
  await emulator.close();
});

function identityUrl(query: Record<string, string>): string {
  return `${emulator.urls.identity}?${new URLSearchParams(query).toString()}`;
}

describe('ManagedIdentityCredential against the identity endpoint', () => {
  it('gets a system-assigned token for Azure OpenAI that MSAL then serves from its cache', async () => {
    const before = (await emulator.admin.stats()).identityCalls;
    const token = await new ManagedIdentityCredential(noRetries).getToken(
      'https://cognitiveservices.azure.com/.default',
    );

    const claims = decodeJwt(token.token);
    expect(claims).toMatchObject({
      aud: 'https://cognitiveservices.azure.com',
      iss: `https://sts.windows.net/${emulator.tenantId}/`,
      tid: emulator.tenantId,
      oid: emulator.principals.systemAssigned.objectId,
      idtyp: 'app',
    });
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3500_000);

    const again = await new ManagedIdentityCredential(noRetries).getToken(
      'https://cognitiveservices.azure.com/.default',
    );
    expect(again.token).toBe(token.token);
    expect((await emulator.admin.stats()).identityCalls - before).toBe(1);
  });

  it('gets a token for the user-assigned identity named by its client id', async () => {
    const credential = new ManagedIdentityCredential({
      clientId: emulator.principals.userAssigned.clientId,
      ...noRetries,
    });
    const token = await credential.getToken('https://cognitiveservices.azure.com/.default');
    expect(decodeJwt(token.token)).toMatchObject({
      oid: emulator.principals.userAssigned.objectId,
      appid: emulator.principals.userAssigned.clientId,
    });
  });

  it("refuses an unknown client id with App Service's message", async () => {
    const credential = new ManagedIdentityCredential({ clientId: randomUUID(), ...noRetries });
    await expect(credential.getToken('https://cognitiveservices.azure.com/.default')).rejects.toMatchObject({
      name: 'CredentialUnavailableError',
      message: expect.stringContaining('Unable to load the proper Managed Identity') as unknown,
    });
  });

  it('fails while an identity fault lasts and works once its count is used up', async () => {
    await emulator.admin.setFault({ kind: 'status', target: 'identity', status: 500, count: 1 });
    const credential = new ManagedIdentityCredential(noRetries);
    await expect(credential.getToken('https://management.azure.com/.default')).rejects.toMatchObject({
      name: 'CredentialUnavailableError',
    });
    const token = await credential.getToken('https://management.azure.com/.default');
    expect(decodeJwt(token.token).aud).toBe('https://management.azure.com');
  });
});

describe('the identity endpoint protocol (2019-08-01)', () => {
  it('answers with access_token, expires_on as epoch seconds in a string, resource, token_type and client_id', async () => {
    const response = await fetch(
      identityUrl({ 'api-version': '2019-08-01', resource: 'https://ai.azure.com' }),
      {
        headers: { 'x-identity-header': emulator.identityHeader },
      },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      resource: 'https://ai.azure.com',
      token_type: 'Bearer',
      client_id: emulator.principals.systemAssigned.clientId,
    });
    expect(body.expires_on).toMatch(/^\d{10}$/);
    expect(typeof body.access_token).toBe('string');
  });

  it('selects the user-assigned identity by mi_res_id or object_id too', async () => {
    const { userAssigned } = emulator.principals;
    for (const query of [{ mi_res_id: userAssigned.resourceId }, { object_id: userAssigned.objectId }]) {
      const response = await fetch(
        identityUrl({
          'api-version': '2019-08-01',
          resource: 'https://cognitiveservices.azure.com',
          ...query,
        }),
        { headers: { 'x-identity-header': emulator.identityHeader } },
      );
      const body = (await response.json()) as { access_token: string; client_id: string };
      expect(body.client_id).toBe(userAssigned.clientId);
      expect(decodeJwt(body.access_token).oid).toBe(userAssigned.objectId);
    }
  });

  it('rejects a request without the right x-identity-header with 401', async () => {
    const query = { 'api-version': '2019-08-01', resource: 'https://cognitiveservices.azure.com' };
    const missing = await fetch(identityUrl(query));
    const wrong = await fetch(identityUrl(query), { headers: { 'x-identity-header': 'not-the-secret' } });
    expect(missing.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ statusCode: 401, message: expect.any(String) as unknown });
  });

  it('rejects another api-version, a missing resource and an unknown resource with 400', async () => {
    const headers = { 'x-identity-header': emulator.identityHeader };
    const oldVersion = await fetch(
      identityUrl({ 'api-version': '2017-09-01', resource: 'https://ai.azure.com' }),
      { headers },
    );
    const noResource = await fetch(identityUrl({ 'api-version': '2019-08-01' }), { headers });
    const unknown = await fetch(
      identityUrl({ 'api-version': '2019-08-01', resource: 'https://vault.example' }),
      { headers },
    );
    expect([oldVersion.status, noResource.status, unknown.status]).toEqual([400, 400, 400]);
    expect(((await unknown.json()) as { message: string }).message).toContain('AADSTS500011');
  });

  it('answers an injected status in the endpoint’s own error shape', async () => {
    await emulator.admin.setFault({ kind: 'status', target: 'identity', status: 503, count: 1 });
    const response = await fetch(
      identityUrl({ 'api-version': '2019-08-01', resource: 'https://ai.azure.com' }),
      {
        headers: { 'x-identity-header': emulator.identityHeader },
      },
    );
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toMatchObject({ statusCode: 503 });
  });
});
