import { AzureCliCredential, ManagedIdentityCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type IssuedServiceToken } from '../../tools/emulator/index';

// Tokens for Azure Managed Redis (Microsoft Entra authentication): audience https://redis.azure.com, and the
// identity's object id in `oid`, which is the Redis user name the access policy assignment admits.
const REDIS_SCOPE = 'https://redis.azure.com/.default';

let emulator: Emulator;
const issued: IssuedServiceToken[] = [];
const saved = {
  endpoint: process.env.IDENTITY_ENDPOINT,
  header: process.env.IDENTITY_HEADER,
  path: process.env.PATH,
};

beforeAll(async () => {
  emulator = await startEmulator({ serviceTokenLifetimeSeconds: { 'https://redis.azure.com': 90 } });
  emulator.onServiceToken((token) => {
    issued.push(token);
  });
  process.env.IDENTITY_ENDPOINT = emulator.urls.identity;
  process.env.IDENTITY_HEADER = emulator.identityHeader;
});

afterAll(async () => {
  for (const [name, value] of [
    ['IDENTITY_ENDPOINT', saved.endpoint],
    ['IDENTITY_HEADER', saved.header],
    ['PATH', saved.path],
  ] as const) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
  await emulator.close();
});

describe('tokens for Azure Managed Redis', () => {
  it('issues a managed identity a Redis-audience token named by its object id, and reports it', async () => {
    const token = await new ManagedIdentityCredential({
      clientId: emulator.principals.userAssigned.clientId,
      retryOptions: { maxRetries: 0 },
    }).getToken(REDIS_SCOPE);

    expect(decodeJwt(token.token)).toMatchObject({
      aud: 'https://redis.azure.com',
      oid: emulator.principals.userAssigned.objectId,
      idtyp: 'app',
    });
    expect(issued.at(-1)).toEqual({
      resource: 'https://redis.azure.com',
      objectId: emulator.principals.userAssigned.objectId,
      token: token.token,
      expiresOn: decodeJwt(token.token).exp,
    });
  });

  it('gives Redis tokens the configured lifetime and other audiences the default hour', async () => {
    const before = issued.length;
    const credential = new ManagedIdentityCredential({ retryOptions: { maxRetries: 0 } });
    const redis = await credential.getToken(REDIS_SCOPE);
    const openai = await credential.getToken('https://cognitiveservices.azure.com/.default');

    const lifetime = (token: string) => {
      const claims = decodeJwt(token);
      return (claims.exp ?? 0) - (claims.iat ?? 0);
    };
    expect(lifetime(redis.token)).toBe(90);
    expect(lifetime(openai.token)).toBe(3600);
    expect(issued.slice(before).map((token) => token.resource)).toEqual([
      'https://redis.azure.com',
      'https://cognitiveservices.azure.com',
    ]);
  });

  it('issues the developer a Redis-audience token through az', async () => {
    process.env.PATH = [emulator.azBinDir, saved.path].filter(Boolean).join(':');
    const token = await new AzureCliCredential().getToken(REDIS_SCOPE);

    expect(decodeJwt(token.token)).toMatchObject({
      aud: 'https://redis.azure.com',
      oid: emulator.principals.developer.objectId,
    });
    expect(issued.at(-1)?.objectId).toBe(emulator.principals.developer.objectId);
  });

  it('stops reporting to a listener that unsubscribed', async () => {
    const seen: string[] = [];
    const stop = emulator.onServiceToken((token) => {
      seen.push(token.token);
    });
    process.env.PATH = [emulator.azBinDir, saved.path].filter(Boolean).join(':');
    await new AzureCliCredential().getToken(REDIS_SCOPE);
    stop();
    await new AzureCliCredential().getToken(REDIS_SCOPE);
    expect(seen).toHaveLength(1);
  });
});
