import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';

let emulator: Emulator;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let issuer: string;

beforeAll(async () => {
  emulator = await startEmulator();
  const discovery = (await (
    await fetch(`${emulator.urls.authorityHost}/${emulator.tenantId}/v2.0/.well-known/openid-configuration`)
  ).json()) as { issuer: string; jwks_uri: string };
  issuer = discovery.issuer;
  jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
});

afterAll(async () => {
  await emulator.close();
});

function verify(token: string, options: { issuer?: string } = {}): ReturnType<typeof jwtVerify> {
  return jwtVerify(token, jwks, {
    issuer: options.issuer ?? issuer,
    audience: emulator.apiAudience,
    algorithms: ['RS256'],
  });
}

describe('the tenant’s OpenID metadata', () => {
  it('publishes the v2 issuer and a JWKS holding the signing key', async () => {
    expect(issuer).toBe(`${emulator.urls.authorityHost}/${emulator.tenantId}/v2.0`);
    const keys = (await (
      await fetch(`${emulator.urls.authorityHost}/${emulator.tenantId}/discovery/v2.0/keys`)
    ).json()) as {
      keys: { kid: string; kty: string; use: string }[];
    };
    const token = await emulator.mintCallerToken();
    expect(keys.keys).toEqual([
      expect.objectContaining({ kid: decodeProtectedHeader(token).kid, kty: 'RSA', use: 'sig' }),
    ]);
  });

  it('publishes the v1 metadata with the sts.windows.net issuer', async () => {
    const v1 = (await (
      await fetch(`${emulator.urls.authorityHost}/${emulator.tenantId}/.well-known/openid-configuration`)
    ).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    expect(v1.issuer).toBe(`https://sts.windows.net/${emulator.tenantId}/`);
    expect(v1.jwks_uri).toBe(`${emulator.urls.authorityHost}/${emulator.tenantId}/discovery/keys`);
  });

  it('answers another tenant with AADSTS90002', async () => {
    const response = await fetch(
      `${emulator.urls.authorityHost}/contoso.example/v2.0/.well-known/openid-configuration`,
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toHaveProperty('error', 'invalid_tenant');
  });
});

describe('caller tokens', () => {
  it('verify against the published keys with the claims a signed-in browser user has', async () => {
    const token = await emulator.mintCallerToken();
    const { payload, protectedHeader } = await verify(token);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(payload).toMatchObject({
      aud: emulator.apiAudience,
      tid: emulator.tenantId,
      oid: emulator.principals.caller.objectId,
      azp: emulator.principals.caller.clientId,
      scp: 'access_as_user',
      name: 'Emulated Caller',
      ver: '2.0',
    });
    expect(typeof payload.sub).toBe('string');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
  });

  it('merge claim overrides and drop claims set to undefined', async () => {
    const { payload } = await verify(
      await emulator.mintCallerToken({ claims: { scp: undefined, roles: ['Gateway.Use'], name: 'Ada' } }),
    );
    expect(payload).not.toHaveProperty('scp');
    expect(payload).toMatchObject({ roles: ['Gateway.Use'], name: 'Ada' });
  });

  it('use the v1 issuer when asked', async () => {
    const token = await emulator.mintCallerToken({ v1Issuer: true });
    const v1Issuer = `https://sts.windows.net/${emulator.tenantId}/`;
    await expect(verify(token, { issuer: v1Issuer })).resolves.toHaveProperty('payload.iss', v1Issuer);
    await expect(verify(token)).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'iss',
    });
  });

  it('fail verification when expired, not yet valid, or signed with a foreign key', async () => {
    await expect(verify(await emulator.mintCallerToken({ expiresInSeconds: -60 }))).rejects.toMatchObject({
      code: 'ERR_JWT_EXPIRED',
    });
    await expect(verify(await emulator.mintCallerToken({ notBeforeSeconds: 600 }))).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'nbf',
    });
    await expect(verify(await emulator.mintCallerToken({ signWith: 'foreign' }))).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });

  it('carry header overrides such as another kid', async () => {
    const token = await emulator.mintCallerToken({ header: { kid: 'unknown-kid' } });
    expect(decodeProtectedHeader(token).kid).toBe('unknown-kid');
    await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });
});
