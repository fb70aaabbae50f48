import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectEmulatorAdmin,
  startEmulator,
  type Emulator,
  type RemoteEmulatorAdmin,
  type UpstreamRequestRecord,
} from '../../tools/emulator/index';
import { COGNITIVE_SERVICES, datedChatUrl, postChat, serviceToken, userMessage } from './emulator-requests';

let emulator: Emulator;
let remote: RemoteEmulatorAdmin;
let token: string;

beforeAll(async () => {
  emulator = await startEmulator();
  remote = connectEmulatorAdmin(emulator.urls.admin);
  token = await serviceToken(emulator);
});

afterEach(async () => {
  await emulator.admin.reset();
});

afterAll(async () => {
  await emulator.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the record until the request has ended (the close event follows the client's abort by a moment). */
async function ended(seq: number): Promise<UpstreamRequestRecord> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const record = (await remote.requests()).find((candidate) => candidate.seq === seq);
    if (record && record.outcome !== 'open') return record;
    await sleep(20);
  }
  throw new Error(`request ${String(seq)} never ended`);
}

describe('the record of upstream requests', () => {
  it('keeps each request with its body, status and times, in arrival order', async () => {
    const before = Date.now();
    const body = { messages: [userMessage('first')], max_tokens: 3 };
    const answer = await postChat(datedChatUrl(emulator), body, { token });
    expect(answer.status).toBe(200);
    await answer.text();
    await postChat(datedChatUrl(emulator), 'not json', { token }).then((response) => response.text());

    const [first, second] = await remote.requests();
    expect(first).toMatchObject({
      method: 'POST',
      path: `/openai/deployments/${emulator.deployment}/chat/completions?api-version=2024-10-21`,
      status: 200,
      outcome: 'completed',
      body,
    });
    expect(first?.receivedAt).toBeGreaterThanOrEqual(before);
    expect(first?.endedAt).toBeGreaterThanOrEqual(first?.receivedAt ?? Infinity);
    expect(second).toMatchObject({ status: 400, outcome: 'completed', body: 'not json' });
    expect((second?.seq ?? 0) - (first?.seq ?? 0)).toBe(1);
  });

  it('says cancelled, with the time the connection closed, when the client aborts a stream', async () => {
    await emulator.admin.setFault({ kind: 'latency', perTokenMs: 50 });
    const abort = new AbortController();
    const response = await postChat(
      datedChatUrl(emulator),
      { messages: [userMessage('long')], max_tokens: 200, stream: true },
      { token },
      abort.signal,
    );
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const abortedAt = Date.now();
    abort.abort();
    const [open] = await remote.requests();
    const record = await ended(open?.seq ?? -1);
    expect(record).toMatchObject({ status: 200, outcome: 'cancelled' });
    expect(record.endedAt).toBeGreaterThanOrEqual(abortedAt);
    expect((record.endedAt ?? Infinity) - abortedAt).toBeLessThan(1000);
    expect(record.body).toMatchObject({ stream: true, max_tokens: 200 });
  });

  it('says reset when the emulator cuts the stream itself', async () => {
    await emulator.admin.setFault({ kind: 'reset', afterChunks: 1 });
    const response = await postChat(
      datedChatUrl(emulator),
      { messages: [userMessage('cut')], max_tokens: 20, stream: true },
      { token },
    );
    await expect(response.text()).rejects.toThrow();
    const [record] = await remote.requests();
    expect((await ended(record?.seq ?? -1)).outcome).toBe('reset');
  });

  it('is emptied by clearRequests and by reset', async () => {
    await postChat(datedChatUrl(emulator), { messages: [userMessage('x')] }, { token }).then((r) => r.text());
    expect(await remote.requests()).toHaveLength(1);
    await remote.clearRequests();
    expect(await remote.requests()).toEqual([]);
    await postChat(datedChatUrl(emulator), { messages: [userMessage('x')] }, { token }).then((r) => r.text());
    await remote.reset();
    expect(await emulator.admin.requests()).toEqual([]);
  });
});

describe('service token lifetime', () => {
  async function identityAnswer(): Promise<{ access_token: string; expires_on: string }> {
    const query = new URLSearchParams({ 'api-version': '2019-08-01', resource: COGNITIVE_SERVICES });
    const response = await fetch(`${emulator.urls.identity}?${query.toString()}`, {
      headers: { 'x-identity-header': emulator.identityHeader },
    });
    return (await response.json()) as { access_token: string; expires_on: string };
  }

  it('is an hour unless shortened, and the shorter tokens expire when they say', async () => {
    const now = () => Math.floor(Date.now() / 1000);
    const normal = await identityAnswer();
    expect(Number(normal.expires_on) - now()).toBeGreaterThan(3590);

    await remote.setTokenLifetime(2);
    const short = await identityAnswer();
    expect(Number(short.expires_on) - now()).toBeLessThanOrEqual(2);
    expect(decodeJwt(short.access_token).exp).toBe(Number(short.expires_on));
    expect(
      (
        await postChat(
          datedChatUrl(emulator),
          { messages: [userMessage('x')] },
          { token: short.access_token },
        )
      ).status,
    ).toBe(200);
    await sleep(3100);
    expect(
      (
        await postChat(
          datedChatUrl(emulator),
          { messages: [userMessage('x')] },
          { token: short.access_token },
        )
      ).status,
    ).toBe(401);

    await remote.reset();
    expect(Number((await identityAnswer()).expires_on) - now()).toBeGreaterThan(3590);
  });

  it('refuses a lifetime that is not a whole number of seconds from 1 to a day', async () => {
    await expect(remote.setTokenLifetime(0)).rejects.toThrow(/400/);
    await expect(remote.setTokenLifetime(1.5)).rejects.toThrow(/400/);
  });

  it('can be set when the emulator starts', async () => {
    const shortLived = await startEmulator({ tokenLifetimeSeconds: 60 });
    try {
      const claims = decodeJwt(await serviceToken(shortLived));
      expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(60);
      await shortLived.admin.setTokenLifetime(120);
      await shortLived.admin.reset();
      const again = decodeJwt(await serviceToken(shortLived));
      expect((again.exp ?? 0) - (again.iat ?? 0)).toBe(60);
    } finally {
      await shortLived.close();
    }
  });
});
