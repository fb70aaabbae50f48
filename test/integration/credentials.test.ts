import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';
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

describe('managed identity, system-assigned', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ credential: 'managedidentity' });
  });

  afterAll(async () => {
    await stack.stop();
  });

  afterEach(async () => {
    await stack.emulator.admin.reset();
  });

  it('completes a chat with a token from the identity endpoint and never runs az', async () => {
    const response = await postChat(stack, hello());
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ object: 'chat.completion' });
    const stats = await stack.emulator.admin.stats();
    expect(stats.identityCalls).toBeGreaterThanOrEqual(1);
    expect(stats.azCalls).toBe(0);
    expect(stats.chatCalls).toBe(1);
  });

  it('gets an ARM token from the identity endpoint too, to list the deployments', async () => {
    const response = await get(stack, '/models');
    expect(response.status).toBe(200);
    const stats = await stack.emulator.admin.stats();
    expect(stats.identityCalls).toBeGreaterThanOrEqual(1);
    expect(stats.armCalls).toBeGreaterThanOrEqual(1);
    expect(stats.azCalls).toBe(0);
  });

  it('authenticates as the system-assigned principal, not the user-assigned one', async () => {
    const { systemAssigned, userAssigned, developer } = stack.emulator.principals;
    await expectChatActsAs(stack, systemAssigned.objectId, [userAssigned.objectId, developer.objectId]);
  });

  it('names the system-assigned managed identity in its log and writes no token there', async () => {
    expect(await eventually(() => stack.logs().includes('ManagedIdentityCredential (system-assigned)'))).toBe(
      true,
    );
    expect(stack.logs()).not.toMatch(jwtPattern);
  });
});

describe('managed identity, user-assigned (AZURE_CLIENT_ID)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ credential: 'managedidentity', userAssigned: true });
  });

  afterAll(async () => {
    await stack.stop();
  });

  afterEach(async () => {
    await stack.emulator.admin.reset();
  });

  it('completes a chat with a token from the identity endpoint and never runs az', async () => {
    const response = await postChat(stack, hello());
    expect(response.status).toBe(200);
    const stats = await stack.emulator.admin.stats();
    expect(stats.identityCalls).toBeGreaterThanOrEqual(1);
    expect(stats.azCalls).toBe(0);
  });

  it('authenticates as the user-assigned principal, not the system-assigned one', async () => {
    const { systemAssigned, userAssigned, developer } = stack.emulator.principals;
    await expectChatActsAs(stack, userAssigned.objectId, [systemAssigned.objectId, developer.objectId]);
  });

  it('lists the deployments with the user-assigned identity', async () => {
    const { systemAssigned } = stack.emulator.principals;
    await stack.emulator.admin.removeRole(systemAssigned.objectId);
    expect((await get(stack, '/models')).status).toBe(200);
  });

  it('names the user-assigned identity by client id in its log', async () => {
    const clientId = stack.emulator.principals.userAssigned.clientId;
    expect(
      await eventually(() =>
        stack.logs().includes(`ManagedIdentityCredential (user-assigned, AZURE_CLIENT_ID=${clientId})`),
      ),
    ).toBe(true);
    expect(stack.logs()).not.toMatch(jwtPattern);
  });
});

describe('Azure CLI credential (the emulator’s az on PATH)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ credential: 'azurecli' });
  });

  afterAll(async () => {
    await stack.stop();
  });

  afterEach(async () => {
    await stack.emulator.admin.reset();
  });

  it('completes a chat with a token from az and never calls the identity endpoint', async () => {
    const response = await postChat(stack, hello());
    expect(response.status).toBe(200);
    const stats = await stack.emulator.admin.stats();
    expect(stats.azCalls).toBeGreaterThanOrEqual(1);
    expect(stats.identityCalls).toBe(0);
  });

  it('lists the deployments with an ARM token from az', async () => {
    const response = await get(stack, '/models');
    expect(response.status).toBe(200);
    const stats = await stack.emulator.admin.stats();
    expect(stats.azCalls).toBeGreaterThanOrEqual(1);
    expect(stats.armCalls).toBeGreaterThanOrEqual(1);
    expect(stats.identityCalls).toBe(0);
  });

  it('authenticates as the signed-in developer', async () => {
    const { systemAssigned, userAssigned, developer } = stack.emulator.principals;
    await expectChatActsAs(stack, developer.objectId, [systemAssigned.objectId, userAssigned.objectId]);
  });

  it('names the Azure CLI credential and its pinned tenant in its log, and writes no token there', async () => {
    const tenantId = stack.emulator.tenantId;
    expect(
      await eventually(() => stack.logs().includes(`AzureCliCredential (AZURE_TENANT_ID=${tenantId})`)),
    ).toBe(true);
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
