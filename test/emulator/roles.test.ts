import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';
import {
  armGet,
  datedChatUrl,
  MANAGEMENT,
  type ArmAnswer,
  postChat,
  serviceToken,
  userMessage,
  v1ChatUrl,
} from './emulator-requests';

const OPENAI_USER = 'Cognitive Services OpenAI User';

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({ propagationDelaySeconds: 1 });
});

afterEach(async () => {
  await emulator.admin.reset();
});

afterAll(async () => {
  await emulator.close();
});

async function chatStatus(token: string): Promise<number> {
  const response = await postChat(
    datedChatUrl(emulator),
    { messages: [userMessage('hi')], max_tokens: 1 },
    { token },
  );
  await response.body?.cancel();
  return response.status;
}

function armRead(path: string, token: string): Promise<ArmAnswer> {
  return armGet(emulator, `/subscriptions/${emulator.subscriptionId}${path}?api-version=2025-09-01`, token);
}

describe('seeded role assignments', () => {
  it('give the app identities and the developer OpenAI User on the account and Reader on the subscription, effective now', async () => {
    const roles = await emulator.admin.listRoles();
    const { systemAssigned, userAssigned, developer } = emulator.principals;
    for (const principalId of [systemAssigned.objectId, userAssigned.objectId, developer.objectId]) {
      const mine = roles
        .filter((role) => role.principalId === principalId)
        .map((role) => [role.role, role.scope, role.effective]);
      expect(mine).toEqual([
        [OPENAI_USER, 'account', true],
        ['Reader', 'subscription', true],
      ]);
    }
    expect(roles.find((role) => role.role === OPENAI_USER)).toMatchObject({
      roleDefinitionId: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd',
      scopeId: `/subscriptions/${emulator.subscriptionId}/resourceGroups/${emulator.resourceGroup}/providers/Microsoft.CognitiveServices/accounts/${emulator.accountName}`,
    });
  });
});

describe('the data plane role check', () => {
  it('answers 401 PermissionDenied naming the principal, data action and operation once the role is gone', async () => {
    const token = await serviceToken(emulator);
    const { objectId } = emulator.principals.systemAssigned;
    expect(await chatStatus(token)).toBe(200);
    expect(await emulator.admin.removeRole(objectId, OPENAI_USER)).toBe(1);

    const response = await postChat(datedChatUrl(emulator), { messages: [userMessage('hi')] }, { token });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: {
        code: 'PermissionDenied',
        message: `The principal \`${objectId}\` lacks the required data action \`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action\` to perform \`POST /openai/deployments/{deployment-id}/chat/completions\` operation.`,
      },
    });
    const v1 = await postChat(
      v1ChatUrl(emulator),
      { model: 'gpt-4o-mini', messages: [userMessage('hi')] },
      { token },
    );
    expect(await v1.json()).toHaveProperty('error.code', 'PermissionDenied');
  });

  it('honours a new assignment only after the propagation delay', async () => {
    const token = await serviceToken(emulator);
    const { objectId } = emulator.principals.systemAssigned;
    await emulator.admin.removeRole(objectId);
    const assignment = await emulator.admin.assignRole({
      principalId: objectId,
      role: OPENAI_USER,
      scope: 'account',
    });
    expect(assignment.effective).toBe(false);
    expect(Date.parse(assignment.effectiveAt) - Date.now()).toBeGreaterThan(500);

    expect(await chatStatus(token)).toBe(401);
    await delay(Date.parse(assignment.effectiveAt) - Date.now() + 50);
    expect(await chatStatus(token)).toBe(200);
  });

  it('takes delaySeconds 0 as "at once" and Reader as no data access', async () => {
    const token = await serviceToken(emulator);
    const { objectId } = emulator.principals.systemAssigned;
    await emulator.admin.removeRole(objectId);
    await emulator.admin.assignRole({
      principalId: objectId,
      role: 'Reader',
      scope: 'subscription',
      delaySeconds: 0,
    });
    expect(await chatStatus(token)).toBe(401);
    await emulator.admin.assignRole({
      principalId: objectId,
      role: OPENAI_USER,
      scope: 'subscription',
      delaySeconds: 0,
    });
    expect(await chatStatus(token)).toBe(200);
  });
});

describe('the ARM role check', () => {
  it('lets OpenAI User on the account read deployments but not the subscription-scoped region catalog', async () => {
    const token = await serviceToken(emulator, MANAGEMENT);
    const { objectId } = emulator.principals.systemAssigned;
    await emulator.admin.removeRole(objectId, 'Reader');

    const account = `/resourceGroups/${emulator.resourceGroup}/providers/Microsoft.CognitiveServices/accounts/${emulator.accountName}`;
    expect((await armRead(`${account}/deployments`, token)).status).toBe(200);
    expect((await armRead(`${account}/models`, token)).status).toBe(200);

    const catalog = await armRead(
      `/providers/Microsoft.CognitiveServices/locations/${emulator.location}/models`,
      token,
    );
    expect(catalog.status).toBe(403);
    expect(catalog.body).toEqual({
      error: {
        code: 'AuthorizationFailed',
        message: `The client '${objectId}' with object id '${objectId}' does not have authorization to perform action 'Microsoft.CognitiveServices/locations/models/read' over scope '/subscriptions/${emulator.subscriptionId}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      },
    });

    await emulator.admin.removeRole(objectId);
    const deployments = await armRead(`${account}/deployments`, token);
    expect(deployments.status).toBe(403);
    expect((deployments.body as { error: { message: string } }).error.message).toContain(
      `'Microsoft.CognitiveServices/accounts/deployments/read' over scope '/subscriptions/${emulator.subscriptionId}${account}'`,
    );
  });

  it('names a user by sign-in name in AuthorizationFailed', async () => {
    const { objectId, upn } = emulator.principals.developer;
    await emulator.admin.removeRole(objectId);
    const token = await emulator.mintCallerToken({
      version: 1,
      claims: { aud: MANAGEMENT, oid: objectId, upn },
    });
    const response = await armRead(`/providers/Microsoft.CognitiveServices/locations/westus/models`, token);
    expect((response.body as { error: { message: string } }).error.message).toMatch(
      new RegExp(`^The client '${upn}' with object id '${objectId}'`),
    );
  });
});
