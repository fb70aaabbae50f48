import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
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

function verify(
  token: string,
  options: { issuer?: string; audience?: string } = {},
): ReturnType<typeof jwtVerify> {
  return jwtVerify(token, jwks, {
    issuer: options.issuer ?? issuer,
    audience: options.audience ?? emulator.api.clientId,
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
  it('name the API by its client id in v2 tokens, with the claims of a signed-in browser user', async () => {
    const token = await emulator.mintCallerToken();
    const { payload, protectedHeader } = await verify(token);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(emulator.api.clientId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(payload).toMatchObject({
      aud: emulator.api.clientId,
      iss: `${emulator.urls.authorityHost}/${emulator.tenantId}/v2.0`,
      ver: '2.0',
      tid: emulator.tenantId,
      oid: emulator.principals.caller.objectId,
      azp: emulator.principals.caller.clientId,
      azpacr: '0',
      scp: 'access_as_user',
      preferred_username: 'caller@emulator.example',
      name: 'Emulated Caller',
    });
    for (const v1Only of ['appid', 'appidacr', 'upn', 'unique_name', 'idtyp'])
      expect(payload, v1Only).not.toHaveProperty(v1Only);
    expect(typeof payload.sub).toBe('string');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
  });

  it('name the API by its application id URI in v1 tokens, issued by sts.windows.net', async () => {
    const token = await emulator.mintCallerToken({ version: 1 });
    const v1Issuer = `https://sts.windows.net/${emulator.tenantId}/`;
    expect(emulator.api.applicationIdUri).toBe(`api://${emulator.api.clientId}`);
    const { payload } = await verify(token, { issuer: v1Issuer, audience: emulator.api.applicationIdUri });
    expect(payload).toMatchObject({
      aud: emulator.api.applicationIdUri,
      iss: v1Issuer,
      ver: '1.0',
      appid: emulator.principals.caller.clientId,
      appidacr: '0',
      oid: emulator.principals.caller.objectId,
      scp: 'access_as_user',
      upn: 'caller@emulator.example',
      unique_name: 'caller@emulator.example',
    });
    for (const v2Only of ['azp', 'azpacr', 'preferred_username'])
      expect(payload, v2Only).not.toHaveProperty(v2Only);
    await expect(verify(token)).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'iss',
    });
  });

  it.each([1, 2] as const)(
    'issue app-only v%s tokens to a daemon: no scp, idtyp app, roles only when granted',
    async (version) => {
      const { daemon } = emulator.principals;
      const plain = decodeJwt(await emulator.mintCallerToken({ version, appOnly: true }));
      expect(plain).toMatchObject({ idtyp: 'app', oid: daemon.objectId, sub: daemon.objectId });
      expect(plain).toMatchObject(
        version === 1
          ? { aud: emulator.api.applicationIdUri, appid: daemon.clientId, appidacr: '1', ver: '1.0' }
          : { aud: emulator.api.clientId, azp: daemon.clientId, azpacr: '1', ver: '2.0' },
      );
      for (const userClaim of ['scp', 'roles', 'name', 'upn', 'preferred_username'])
        expect(plain, userClaim).not.toHaveProperty(userClaim);
      const granted = decodeJwt(
        await emulator.mintCallerToken({ version, appOnly: true, claims: { roles: ['Gateway.Invoke'] } }),
      );
      expect(granted.roles).toEqual(['Gateway.Invoke']);
    },
  );

  it('merge claim overrides and drop claims set to undefined', async () => {
    const { payload } = await verify(
      await emulator.mintCallerToken({ claims: { scp: undefined, roles: ['Gateway.Use'], name: 'Ada' } }),
    );
    expect(payload).not.toHaveProperty('scp');
    expect(payload).toMatchObject({ roles: ['Gateway.Use'], name: 'Ada' });
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
