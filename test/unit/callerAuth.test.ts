import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type Authenticate } from '../../src/lib/caller/callerAuth';
import type { Config } from '../../src/lib/config';

const tenantId = '8f4b3a2e-1c2d-4e5f-9a8b-7c6d5e4f3a2b';
const apiClientId = '5d3f0e4a-6b7c-4d8e-9f01-23456789abcd';
const applicationIdUri = `api://${apiClientId}`;
const authorityHost = 'https://login.example.test';

const auth: Config['auth'] = {
  mode: 'entra',
  tenantId,
  clientId: apiClientId,
  applicationIdUri,
  authorityHost,
  requiredScope: 'access_as_user',
  requiredRole: undefined,
  trustAppServiceAuth: false,
};

let sign: (claims: JWTPayload, options?: { kid?: string; foreign?: boolean }) => Promise<string>;
let keys: ReturnType<typeof createLocalJWKSet>;

beforeAll(async () => {
  const tenantKey = await generateKeyPair('RS256');
  const foreignKey = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(tenantKey.publicKey)), kid: 'tenant-key', alg: 'RS256', use: 'sig' };
  keys = createLocalJWKSet({ keys: [jwk] });
  sign = (claims, options = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: `${authorityHost}/${tenantId}/v2.0`,
      aud: apiClientId,
      tid: tenantId,
      oid: 'user-1',
      iat: now,
      nbf: now,
      exp: now + 3600,
      scp: 'access_as_user',
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'tenant-key' })
      .sign(options.foreign ? foreignKey.privateKey : tenantKey.privateKey);
  };
});

const bearer = (token: string) => new Headers({ authorization: `Bearer ${token}` });
const make = (overrides: Partial<Config['auth']> = {}, platform = false): Authenticate =>
  createAuthenticator({ ...auth, ...overrides }, platform, { keys });

describe('caller authentication', () => {
  it('accepts a token of the tenant for the API and keys limits on tenant and object id', async () => {
    const caller = await make()(bearer(await sign({})));
    expect(caller).toMatchObject({ objectId: 'user-1', tenantId, anonymous: false });
    expect(caller.hash).toMatch(/^[0-9a-f]{12}$/);
    expect(caller.hash).not.toContain('user-1');
  });

  it('accepts a v1 token, whose audience is the application id URI, from the same tenant', async () => {
    await expect(
      make()(
        bearer(
          await sign({ iss: `https://sts.windows.net/${tenantId}/`, aud: applicationIdUri, ver: '1.0' }),
        ),
      ),
    ).resolves.toMatchObject({ objectId: 'user-1' });
  });

  it('accepts only the one API it is configured for, by client id or application id URI', async () => {
    await expect(make()(bearer(await sign({ aud: 'api://another-api' })))).rejects.toMatchObject({
      status: 401,
    });
    await expect(
      make({ applicationIdUri: 'https://gateway.contoso.example' })(
        bearer(await sign({ aud: 'https://gateway.contoso.example' })),
      ),
    ).resolves.toMatchObject({ objectId: 'user-1' });
    await expect(
      make({ applicationIdUri: 'https://gateway.contoso.example' })(
        bearer(await sign({ aud: applicationIdUri })),
      ),
    ).rejects.toMatchObject({ status: 401 });
  });

  it('asks for a token with a bare Bearer challenge when none is sent', async () => {
    await expect(make()(new Headers())).rejects.toMatchObject({
      status: 401,
      headers: { 'www-authenticate': 'Bearer' },
    });
  });

  it.each([
    ['expired', { exp: Math.floor(Date.now() / 1000) - 600 }],
    ['not yet valid', { nbf: Math.floor(Date.now() / 1000) + 600 }],
    ['for another audience', { aud: 'https://management.azure.com' }],
    ['from another issuer', { iss: 'https://evil.example/v2.0' }],
    ['from another tenant', { tid: '00000000-0000-0000-0000-000000000001' }],
  ])('refuses a token %s with invalid_token', async (_label, claims) => {
    await expect(make()(bearer(await sign(claims)))).rejects.toMatchObject({
      status: 401,
      headers: { 'www-authenticate': expect.stringContaining('error="invalid_token"') as unknown },
    });
  });

  it('refuses a token signed by a key the tenant does not publish', async () => {
    await expect(make()(bearer(await sign({}, { foreign: true })))).rejects.toMatchObject({ status: 401 });
    await expect(make()(bearer(await sign({}, { kid: 'unknown', foreign: true })))).rejects.toMatchObject({
      status: 401,
    });
  });

  it('refuses alg none and a tampered payload', async () => {
    const good = await sign({});
    const [header, payload, signature] = good.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload ?? ''}.`;
    await expect(make()(bearer(none))).rejects.toMatchObject({ status: 401 });
    const tampered = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), oid: 'admin' }),
    ).toString('base64url');
    await expect(make()(bearer(`${header ?? ''}.${tampered}.${signature ?? ''}`))).rejects.toMatchObject({
      status: 401,
    });
  });

  it('refuses an oversized Authorization header without parsing it', async () => {
    await expect(make()(bearer('a'.repeat(20_000)))).rejects.toMatchObject({ status: 401 });
  });

  it('requires the delegated scope by default', async () => {
    await expect(make()(bearer(await sign({ scp: 'User.Read' })))).rejects.toMatchObject({
      status: 403,
      code: 'insufficient_scope',
      headers: { 'www-authenticate': 'Bearer error="insufficient_scope", scope="access_as_user"' },
    });
    await expect(make()(bearer(await sign({ scp: 'User.Read access_as_user' })))).resolves.toMatchObject({
      objectId: 'user-1',
    });
  });

  it('refuses app-only tokens unless an app role is required and the token holds it', async () => {
    const appOnly = { scp: undefined, idtyp: 'app', oid: 'daemon-sp', sub: 'daemon-sp' };
    await expect(make()(bearer(await sign({ ...appOnly, roles: ['Chat.Use'] })))).rejects.toMatchObject({
      status: 403,
      code: 'app_only_token',
    });
    // NOTE: without the optional idtyp claim, the missing scp alone marks a token as app-only.
    await expect(make()(bearer(await sign({ scp: undefined })))).rejects.toMatchObject({
      code: 'app_only_token',
    });
    await expect(make({ requiredRole: 'Chat.Use' })(bearer(await sign(appOnly)))).rejects.toMatchObject({
      status: 403,
      code: 'missing_role',
    });
    await expect(
      make({ requiredRole: 'Chat.Use' })(bearer(await sign({ ...appOnly, roles: ['Chat.Use'] }))),
    ).resolves.toMatchObject({ objectId: 'daemon-sp' });
  });

  it('answers 403 when a required scope or app role is missing', async () => {
    await expect(make({ requiredScope: 'chat' })(bearer(await sign({})))).rejects.toMatchObject({
      status: 403,
      code: 'insufficient_scope',
    });
    await expect(make({ requiredRole: 'Chat.Use' })(bearer(await sign({})))).rejects.toMatchObject({
      status: 403,
      code: 'missing_role',
    });
    await expect(
      make({ requiredRole: 'Chat.Use' })(bearer(await sign({ roles: ['Chat.Use'] }))),
    ).resolves.toMatchObject({ objectId: 'user-1' });
  });

  it('ignores the App Service principal header unless the platform feature is on and trusted', async () => {
    const principal = Buffer.from(
      JSON.stringify({
        claims: [
          { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'easy-auth-user' },
        ],
      }),
    ).toString('base64');
    const headers = new Headers({ 'x-ms-client-principal': principal });
    await expect(make({ trustAppServiceAuth: true }, false)(headers)).rejects.toMatchObject({ status: 401 });
    await expect(make({ trustAppServiceAuth: false }, true)(headers)).rejects.toMatchObject({ status: 401 });
    await expect(make({ trustAppServiceAuth: true }, true)(headers)).resolves.toMatchObject({
      objectId: 'easy-auth-user',
    });
  });

  it('lets anyone in only when anonymous mode is chosen, keyed by client address', async () => {
    const anonymous = createAuthenticator({ ...auth, mode: 'anonymous' }, false);
    await expect(
      anonymous(new Headers({ 'x-forwarded-for': '203.0.113.9, 10.0.0.1' })),
    ).resolves.toMatchObject({
      anonymous: true,
      key: 'anonymous/203.0.113.9',
    });
  });
});
