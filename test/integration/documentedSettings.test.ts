import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import type { CallerTokenOptions } from '../../tools/emulator/index';
import { baseEnv } from '../support/gatewayHarness';
import { startStack, type Stack } from '../support/stack';

// The running app, configured the way docs/deployment.md configures a deployment, against tokens the emulator
// issues the way Entra does for the API registration the guide creates. A mismatch between the guide, the
// app and Entra's token format fails here instead of in a first real deployment.

const guide = await readFile(new URL('../../docs/deployment.md', import.meta.url), 'utf8');

/** What the guide registers and configures, read from its commands. */
const documented = {
  identifierUri: /--identifier-uris "([^"]+)"/.exec(guide)?.[1],
  scope: /\\"value\\": \\"([A-Za-z_.]+)\\", \\"type\\": \\"User\\"/.exec(guide)?.[1],
  tokenVersion: Number(/\\"requestedAccessTokenVersion\\": (\d)/.exec(guide)?.[1]),
  clientIdFrom: /export AUTH_CLIENT_ID="\$([A-Z_]+)"/.exec(guide)?.[1],
  appIdFrom: /([A-Z_]+)=\$\(az ad app create --display-name "OpenAI gateway API"/.exec(guide)?.[1],
  tokenScope: /get-access-token --scope "\$AUTH_APP_ID_URI\/([A-Za-z_.]+)"/.exec(guide)?.[1],
};

let stack: Stack;
let withRole: Stack;

/**
 * Only what the guide has the operator set, AUTH_CLIENT_ID (the emulator's settings already carry its API's
 * client id there); the application id URI and the required scope are left to the app's defaults.
 */
const documentedEnv = { AUTH_APP_ID_URI: '', AUTH_REQUIRED_SCOPE: '' };

beforeAll(async () => {
  [stack, withRole] = await Promise.all([
    startStack({ env: documentedEnv }),
    startStack({ env: { ...documentedEnv, AUTH_REQUIRED_ROLE: 'Gateway.Invoke' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([stack.stop(), withRole.stop()]);
});

const status = async (target: Stack, options: CallerTokenOptions): Promise<[number, string | undefined]> => {
  const token = await target.emulator.mintCallerToken(options);
  const response = await fetch(`${target.apiBaseUrl}/models`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as { error?: { code?: string } };
  return [response.status, body.error?.code];
};

describe('the documented API registration', () => {
  it('is the one the emulator issues tokens for, and the one the app expects by default', () => {
    expect(documented.appIdFrom).toBe('API_APP_ID');
    expect(documented.clientIdFrom).toBe(documented.appIdFrom);
    expect(documented.identifierUri).toBe(`api://$${documented.appIdFrom ?? ''}`);
    const { api } = stack.emulator;
    expect(documented.identifierUri?.replace('$API_APP_ID', api.clientId)).toBe(api.applicationIdUri);
    expect(documented.scope).toBe(api.scope);
    expect(documented.tokenScope).toBe(api.scope);
    expect(documented.tokenVersion).toBe(api.accessTokenVersion);
    const defaults = loadConfig({
      ...baseEnv,
      AUTH_MODE: 'entra',
      AUTH_TENANT_ID: stack.emulator.tenantId,
      AUTH_CLIENT_ID: api.clientId,
    }).auth;
    expect(defaults.requiredScope).toBe(documented.scope);
    expect(defaults.applicationIdUri).toBe(api.applicationIdUri);
  });
});

describe('an app configured as docs/deployment.md says', () => {
  it.each([1, 2] as const)("accepts a signed-in user's v%s token", async (version) => {
    expect(await status(stack, { version })).toEqual([200, undefined]);
  });

  it.each([1, 2] as const)(
    'refuses an app-only v%s token, which any app in the tenant can get',
    async (version) => {
      expect(await status(stack, { version, appOnly: true, claims: { roles: ['Gateway.Invoke'] } })).toEqual([
        403,
        'app_only_token',
      ]);
    },
  );

  it.each([1, 2] as const)('refuses a v%s user token without the access_as_user scope', async (version) => {
    expect(await status(stack, { version, claims: { scp: 'User.Read' } })).toEqual([
      403,
      'insufficient_scope',
    ]);
  });

  it('refuses a token for another API', async () => {
    expect(await status(stack, { claims: { aud: '00000000-0000-0000-0000-00000000abcd' } })).toEqual([
      401,
      'invalid_token',
    ]);
  });
});

describe('an app that also requires an app role', () => {
  it.each([1, 2] as const)('accepts an app-only v%s token that holds the role', async (version) => {
    expect(await status(withRole, { version, appOnly: true, claims: { roles: ['Gateway.Invoke'] } })).toEqual(
      [200, undefined],
    );
  });

  it.each([1, 2] as const)('refuses v%s tokens without the role, app-only or not', async (version) => {
    expect(await status(withRole, { version, appOnly: true })).toEqual([403, 'missing_role']);
    expect(await status(withRole, { version })).toEqual([403, 'missing_role']);
    expect(await status(withRole, { version, claims: { roles: ['Gateway.Invoke'] } })).toEqual([
      200,
      undefined,
    ]);
  });
});
