import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectEmulatorAdmin,
  startEmulator,
  type Emulator,
  type RemoteEmulatorAdmin,
} from '../../tools/emulator/index';
import { datedChatUrl, postChat, serviceToken, userMessage } from './emulator-requests';

let emulator: Emulator;
let remote: RemoteEmulatorAdmin;

beforeAll(async () => {
  emulator = await startEmulator();
  remote = connectEmulatorAdmin(emulator.urls.admin);
});

afterEach(async () => {
  await remote.reset();
});

afterAll(async () => {
  await emulator.close();
});

describe('the admin HTTP API', () => {
  it('describes the emulator for a process that did not start it', async () => {
    const info = await remote.info();
    expect(info).toMatchObject({
      tenantId: emulator.tenantId,
      subscriptionId: emulator.subscriptionId,
      deployment: 'gpt-4o-mini',
      urls: emulator.urls,
      identityHeader: emulator.identityHeader,
      caCertPath: emulator.caCertPath,
    });
  });

  it('sets and clears faults that the running emulator then honours', async () => {
    const token = await serviceToken(emulator);
    await remote.setFault({ kind: 'status', target: 'openai', status: 503, count: 1 });
    expect((await postChat(datedChatUrl(emulator), { messages: [userMessage('x')] }, { token })).status).toBe(
      503,
    );
    await remote.setFault({ kind: 'status', target: 'openai', status: 500 });
    await remote.clearFaults();
    expect((await postChat(datedChatUrl(emulator), { messages: [userMessage('x')] }, { token })).status).toBe(
      200,
    );
    expect(await remote.stats()).toMatchObject({ chatCalls: 2, identityCalls: 1 });
    await remote.resetStats();
    expect(await emulator.admin.stats()).toEqual({ identityCalls: 0, azCalls: 0, armCalls: 0, chatCalls: 0 });
  });

  it('assigns, lists and removes roles', async () => {
    const principalId = '11111111-2222-3333-4444-555555555555';
    const assignment = await remote.assignRole({
      principalId,
      role: 'Reader',
      scope: 'subscription',
      delaySeconds: 0,
    });
    expect(assignment).toMatchObject({ principalId, role: 'Reader', effective: true });
    expect((await emulator.admin.listRoles()).some((role) => role.principalId === principalId)).toBe(true);
    expect(await remote.removeRole(principalId, 'Reader')).toBe(1);
    expect((await remote.listRoles()).some((role) => role.principalId === principalId)).toBe(false);
  });

  it('sets rate limits and the az login state', async () => {
    expect(await remote.setRateLimit('gpt-4o', { tokensPerMinute: 500 })).toEqual({
      tokensPerMinute: 500,
      requestsPer10Seconds: 1000,
    });
    await remote.setAzLoggedIn(false);
    await remote.reset();
    expect(await emulator.admin.setRateLimit('gpt-4o', {})).toEqual({
      tokensPerMinute: 100_000,
      requestsPer10Seconds: 1000,
    });
  });

  it('mints caller tokens, dropping claims sent as null', async () => {
    const token = await remote.mintCallerToken({ claims: { scp: undefined, roles: ['Gateway.Use'] } });
    const claims = decodeJwt(token);
    expect(claims).not.toHaveProperty('scp');
    expect(claims).toMatchObject({ roles: ['Gateway.Use'], aud: emulator.api.clientId });
  });

  it('answers invalid input with 400 and unknown routes with 404, in JSON', async () => {
    await expect(remote.setFault({ kind: 'latency', firstTokenMs: -1 })).rejects.toMatchObject({
      status: 400,
    });
    const unknown = await fetch(`${emulator.urls.admin}/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toHaveProperty('error.code', 'NotFound');
    const wrongMethod = await fetch(`${emulator.urls.admin}/stats`, { method: 'POST' });
    expect(wrongMethod.status).toBe(405);
    const badJson = await fetch(`${emulator.urls.admin}/faults`, { method: 'POST', body: '{' });
    expect(badJson.status).toBe(400);
  });

  it('allows browser pages on other origins to call it', async () => {
    const preflight = await fetch(`${emulator.urls.admin}/faults`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
  });
});
