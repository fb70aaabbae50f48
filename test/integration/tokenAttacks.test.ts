import { createPublicKey } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerTokenOptions } from '../../tools/emulator/index';
import { startStack, type Stack } from '../support/stack';

/** Forged and broken caller tokens against the running app, with the emulator as the tenant. */

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack.stop();
});

const listModels = (authorization: string) =>
  fetch(`${stack.apiBaseUrl}/models`, { headers: { authorization } });
const mint = (options: CallerTokenOptions) => stack.emulator.mintCallerToken(options);
const otherTenant = '0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';

async function expectInvalidToken(token: string): Promise<void> {
  const response = await listModels(`Bearer ${token}`);
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  const body = (await response.json()) as { error: { code: string } };
  expect(body.error.code).toBe('invalid_token');
}

describe('caller token attacks', () => {
  it('accepts the genuine token (the baseline the attacks are measured against)', async () => {
    expect((await listModels(`Bearer ${stack.callerToken}`)).status).toBe(200);
  });

  it.each<[string, CallerTokenOptions]>([
    ['an expired token', { expiresInSeconds: -600 }],
    ['a token that is not valid yet', { notBeforeSeconds: 600 }],
    ['a token for another audience', { claims: { aud: 'https://management.azure.com' } }],
    ['a token from another issuer', { claims: { iss: 'https://login.evil.example/v2.0' } }],
    [
      'a token of another tenant',
      { claims: { tid: otherTenant, iss: `https://login.microsoftonline.com/${otherTenant}/v2.0` } },
    ],
    ['a token signed by a key the tenant does not publish', { signWith: 'foreign' }],
  ])('refuses %s with 401 invalid_token', async (_label, options) => {
    await expectInvalidToken(await mint(options));
  });

  it('refuses an unsigned token (alg none)', async () => {
    const [, payload] = stack.callerToken.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    await expectInvalidToken(`${header}.${payload ?? ''}.`);
  });

  it('refuses an HS256 token keyed with the tenant public key (algorithm confusion)', async () => {
    const tenantId = stack.emulator.tenantId;
    const jwks = (await (
      await fetch(`${stack.emulator.urls.authorityHost}/${tenantId}/discovery/v2.0/keys`)
    ).json()) as {
      keys: (JWK & { kid: string })[];
    };
    const jwk = jwks.keys[0];
    if (!jwk) throw new Error('the tenant publishes no key');
    const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const [, payload] = stack.callerToken.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: jwk.kid })
      .sign(Buffer.from(pem));
    await expectInvalidToken(forged);
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, payload, signature] = stack.callerToken.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    const tampered = Buffer.from(
      JSON.stringify({ ...claims, oid: '00000000-0000-0000-0000-0000000000aa' }),
    ).toString('base64url');
    await expectInvalidToken(`${header ?? ''}.${tampered}.${signature ?? ''}`);
  });

  it('answers 403 insufficient_scope for a valid token without the required scope', async () => {
    const response = await listModels(`Bearer ${await mint({ claims: { scp: 'something_else' } })}`);
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('insufficient_scope');
  });

  it('asks for a token when none is sent, and refuses a non-bearer scheme', async () => {
    const none = await fetch(`${stack.apiBaseUrl}/models`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await listModels(`Basic ${Buffer.from('a:b').toString('base64')}`)).status).toBe(401);
  });
});
