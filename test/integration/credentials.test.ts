import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack, type StackOptions } from '../support/stack';
import { errorOf, eventually, get, hello, jwtPattern, postChat } from './http';

/**
 * The app's real credentials against the emulator: ManagedIdentityCredential over the App Service identity
 * endpoint (system- and user-assigned) and AzureCliCredential running the emulator's `az`. Each block runs its
 * own host process, so MSAL's process-wide token cache never carries over from one block to the next.
 */

const OPENAI_USER = 'Cognitive Services OpenAI User';

/** Chat succeeds only while the principal the app authenticates as holds the OpenAI User role. */
async function expectChatActsAs(
  stack: Stack,
  principalId: string,
  otherPrincipalIds: string[],
): Promise<void> {
  for (const other of otherPrincipalIds) await stack.emulator.admin.removeRole(other);
  expect((await postChat(stack, hello())).status).toBe(200);

  await stack.emulator.admin.removeRole(principalId, OPENAI_USER);
  const refused = await postChat(stack, hello());
  expect(refused.status).toBe(502);
  expect((await errorOf(refused)).code).toBe('upstream_permission_denied');
}

type PrincipalName = keyof Stack['emulator']['principals'];
type TokenSource = 'identityCalls' | 'azCalls';

interface CredentialCase {
  name: string;
  options: StackOptions;
  /** Where the app's tokens must come from, and where they must never come from. */
  source: TokenSource;
  never: TokenSource;
  principal: PrincipalName;
  /** The line naming the credential in the app's log. */
  logLine: (stack: Stack) => string;
}

const principalNames: PrincipalName[] = ['systemAssigned', 'userAssigned', 'developer'];

describe.each<CredentialCase>([
  {
    name: 'managed identity, system-assigned',
    options: { credential: 'managedidentity' },
    source: 'identityCalls',
    never: 'azCalls',
    principal: 'systemAssigned',
    logLine: () => 'ManagedIdentityCredential (system-assigned)',
  },
  {
    name: 'managed identity, user-assigned (AZURE_CLIENT_ID)',
    options: { credential: 'managedidentity', userAssigned: true },
    source: 'identityCalls',
    never: 'azCalls',
    principal: 'userAssigned',
    logLine: (stack) =>
      `ManagedIdentityCredential (user-assigned, AZURE_CLIENT_ID=${stack.emulator.principals.userAssigned.clientId})`,
  },
  {
    name: 'Azure CLI credential (the emulator’s az on PATH)',
    options: { credential: 'azurecli' },
    source: 'azCalls',
    never: 'identityCalls',
    principal: 'developer',
    logLine: (stack) => `AzureCliCredential (AZURE_TENANT_ID=${stack.emulator.tenantId})`,
  },
])('$name', ({ options, source, never, principal, logLine }) => {
  let stack: Stack;
  const others = () =>
    principalNames
      .filter((name) => name !== principal)
      .map((name) => stack.emulator.principals[name].objectId);

  beforeAll(async () => {
    stack = await startStack(options);
  });

  afterAll(async () => {
    await stack.stop();
  });

  afterEach(async () => {
    await stack.emulator.admin.reset();
  });

  it(`completes a chat with a token from its own source only`, async () => {
    const response = await postChat(stack, hello());
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ object: 'chat.completion' });
    const stats = await stack.emulator.admin.stats();
    expect(stats[source]).toBeGreaterThanOrEqual(1);
    expect(stats[never]).toBe(0);
    expect(stats.chatCalls).toBe(1);
  });

  it('lists the deployments with an ARM token from the same source', async () => {
    for (const other of others()) await stack.emulator.admin.removeRole(other);
    const response = await get(stack, '/models');
    expect(response.status).toBe(200);
    const stats = await stack.emulator.admin.stats();
    expect(stats[source]).toBeGreaterThanOrEqual(1);
    expect(stats.armCalls).toBeGreaterThanOrEqual(1);
    expect(stats[never]).toBe(0);
  });

  it('authenticates as its own principal and no other', async () => {
    await expectChatActsAs(stack, stack.emulator.principals[principal].objectId, others());
  });

  it('names the credential in its log and writes no token there', async () => {
    const line = logLine(stack);
    expect(await eventually(() => stack.logs().includes(line))).toBe(true);
    expect(stack.logs()).not.toMatch(jwtPattern);
  });
});

describe('Azure CLI credential when az is not logged in', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ credential: 'azurecli' });
    await stack.emulator.admin.setAzLoggedIn(false);
  });

  afterAll(async () => {
    await stack.stop();
  });

  it('answers 503 credential_unavailable and says the reason is in its log', async () => {
    const response = await postChat(stack, hello());
    expect(response.status).toBe(503);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const error = await errorOf(response);
    expect(error).toMatchObject({ code: 'credential_unavailable', type: 'upstream_error', param: null });
    expect(error.message).toContain('log');
    expect(error.message).not.toContain('az login');
    const stats = await stack.emulator.admin.stats();
    expect(stats.azCalls).toBeGreaterThanOrEqual(1);
    expect(stats.chatCalls).toBe(0);
  });

  it('answers 503 credential_unavailable for the model list as well', async () => {
    const response = await get(stack, '/models');
    expect(response.status).toBe(503);
    expect((await errorOf(response)).code).toBe('credential_unavailable');
    expect((await stack.emulator.admin.stats()).armCalls).toBe(0);
  });

  it('logs the az login hint and no token', async () => {
    expect(await eventually(() => stack.logs().includes("Please run 'az login'"))).toBe(true);
    const logs = stack.logs();
    expect(logs).toMatch(/"error":"credential_unavailable".*Please run 'az login'/);
    expect(logs).not.toMatch(jwtPattern);
    expect(logs).not.toContain(stack.callerToken);
  });

  it('recovers without a restart once az is logged in again', async () => {
    await stack.emulator.admin.setAzLoggedIn(true);
    const response = await postChat(stack, hello());
    expect(response.status).toBe(200);
  });
});
