import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';
import { startHost, type RunningHost } from '../../tools/host/index';
import { hello } from './http';

/**
 * The app's Azure OpenAI token across several token lifetimes, on a clock the test moves.
 *
 * Two clocks decide when a token is renewed: the openai client's token provider (getBearerTokenProvider's
 * token cycler) starts a renewal 2 minutes before `expires_on` and waits for one from 1 second before it;
 * MSAL, under ManagedIdentityCredential, treats a cached token with less than 5 minutes left as expired.
 * Both read `Date`, and so do the emulator's token issuer and its checks at Azure OpenAI. Here the app runs
 * in this process (the built dist/index.js in the local host, started with startHost) next to the emulator,
 * and only `Date` is faked: sockets, timers and every request between app, identity endpoint and Azure
 * OpenAI stay real. Each step moves the one clock forward and sends a chat through the host.
 */

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

let emulator: Emulator;
let host: RunningHost;
let clock: number;

beforeAll(async () => {
  // NOTE: a whole second, as expires_on counts whole seconds; the clock moves only when a test moves it.
  clock = Math.ceil(Date.now() / 1000) * 1000;
  vi.useFakeTimers({ toFake: ['Date'], now: clock });
  emulator = await startEmulator();
  host = await startHost({
    appRoot: repositoryRoot,
    port: 0,
    loadLocalSettings: false,
    env: emulator.appSettings({ credential: 'managedidentity' }),
    output: { stdout: () => undefined, stderr: () => undefined },
  });
});

afterAll(async () => {
  await host.close();
  await emulator.close();
  vi.useRealTimers();
});

function advance(seconds: number): void {
  clock += seconds * 1000;
  vi.setSystemTime(clock);
}

async function chat(): Promise<number> {
  // NOTE: a fresh caller token per request, as a browser has: the caller's own token must not be what expires.
  const callerToken = await emulator.mintCallerToken();
  const response = await fetch(`${host.apiBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${callerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(hello({ max_tokens: 2 })),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Chats every `stepSeconds` for `totalSeconds` of the test's clock; answers the statuses that were not 200. */
async function chatAcross(totalSeconds: number, stepSeconds: number): Promise<number[]> {
  const failed: number[] = [];
  for (let elapsed = 0; elapsed <= totalSeconds; elapsed += stepSeconds) {
    const status = await chat();
    if (status !== 200) failed.push(status);
    advance(stepSeconds);
  }
  return failed;
}

describe('the app token across several lifetimes', () => {
  // NOTE: the tests share the app's process-wide token caches; each starts after the previous token expired.

  it('renews a one-hour token once per lifetime under steady traffic, failing no request', async () => {
    const LIFETIME = 3600;
    await emulator.admin.setTokenLifetime(LIFETIME);
    await emulator.admin.resetStats();

    // NOTE: a chat every 100 s for 4 lifetimes, so one lands in each token's last 2 minutes.
    const failed = await chatAcross(4 * LIFETIME, 100);

    expect(failed).toEqual([]);
    const { identityCalls, chatCalls } = await emulator.admin.stats();
    expect(chatCalls).toBe(145);
    // NOTE: the first token, then one renewal per lifetime, before each token ran out.
    expect(identityCalls).toBe(5);
  });

  it('gets a new token for the first request after the old one expired while the app was idle', async () => {
    const LIFETIME = 3600;
    await emulator.admin.setTokenLifetime(LIFETIME);
    advance(LIFETIME);
    await emulator.admin.resetStats();

    // NOTE: 25 minutes between chats: every third one finds the token expired.
    const failed = await chatAcross(4 * LIFETIME, 1500);

    expect(failed).toEqual([]);
    const { identityCalls, chatCalls } = await emulator.admin.stats();
    expect(chatCalls).toBe(10);
    // NOTE: tokens fetched at 0, 4500, 9000 and 13500 s, each by the first chat after the last one expired.
    expect(identityCalls).toBe(4);
  });

  it('renews a token that lasts just over MSAL’s 5-minute window 2 minutes before it expires', async () => {
    // NOTE: MSAL keeps such a token for its first 10 s only, so every renewal reaches the identity endpoint.
    const LIFETIME = 5 * 60 + 10;
    await emulator.admin.setTokenLifetime(LIFETIME);
    advance(3600);
    await emulator.admin.resetStats();

    // NOTE: a chat every 30 s for 4 lifetimes (1240 s).
    const failed = await chatAcross(4 * LIFETIME, 30);

    expect(failed).toEqual([]);
    const { identityCalls, chatCalls } = await emulator.admin.stats();
    expect(chatCalls).toBe(42);
    // NOTE: tokens at 0, 210, 420, 630, 840 and 1050 s: the first chat inside each token's last 2 minutes
    // (190 s after it was issued) renews it, so one identity call per 210 s, not one per 310 s lifetime.
    expect(identityCalls).toBe(6);
  });
});
