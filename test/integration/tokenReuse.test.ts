import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployments, modelCatalog } from '../../tools/emulator/catalog';
import { startStack, type Stack } from '../support/stack';
import { get, hello, postChat } from './http';

/**
 * Tokens and model listings are fetched once and reused: the identity endpoint and ARM see one round however
 * many requests the gateway serves, sequential or concurrent. Each block has its own host process, so its
 * first request really is the process's first (MSAL caches tokens process-wide).
 */

const ARM_PAGE_SIZE = 2;
const CACHE_TTL_SECONDS = 3;
const pages = (items: number): number => Math.ceil(items / ARM_PAGE_SIZE);
/** One load of GET /models: every page of the account's deployments and of the account's models. */
const deploymentsRound = pages(deployments.length) + pages(modelCatalog.length);
/** One load of a region catalog: every page of locations/{l}/models. */
const regionRound = pages(modelCatalog.length);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sequential requests', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      env: { MODELS_CACHE_TTL_SECONDS: String(CACHE_TTL_SECONDS) },
      emulator: { armPageSize: ARM_PAGE_SIZE },
    });
  });

  afterAll(async () => {
    await stack.stop();
  });

  // NOTE: the tests below run in order on one process; this one must be the process's first chat.
  it('makes one identity-endpoint call for ten sequential chats', async () => {
    for (let index = 0; index < 10; index++) {
      expect((await postChat(stack, hello({ max_tokens: 2 }))).status).toBe(200);
    }
    const stats = await stack.emulator.admin.stats();
    expect(stats.chatCalls).toBe(10);
    expect(stats.identityCalls).toBe(1);
  });

  it('reads every ARM page once for the model list, then serves it from cache until the TTL passes', async () => {
    expect(deploymentsRound).toBeGreaterThan(2);
    await stack.emulator.admin.resetStats();
    const first = await get(stack, '/models');
    expect(first.status).toBe(200);
    const firstRound = await stack.emulator.admin.stats();
    expect(firstRound.armCalls).toBe(deploymentsRound);
    // NOTE: one more token, for a different resource (ARM).
    expect(firstRound.identityCalls).toBe(1);

    const cachedStarted = performance.now();
    for (let index = 0; index < 5; index++) {
      expect((await get(stack, '/models')).status).toBe(200);
      expect((await get(stack, '/models/gpt-4o')).status).toBe(200);
    }
    expect(performance.now() - cachedStarted).toBeLessThan(CACHE_TTL_SECONDS * 1000);
    expect(await stack.emulator.admin.stats()).toMatchObject({
      armCalls: deploymentsRound,
      identityCalls: 1,
    });

    await sleep(CACHE_TTL_SECONDS * 1000 + 200);
    expect((await get(stack, '/models')).status).toBe(200);
    expect(await stack.emulator.admin.stats()).toMatchObject({
      armCalls: 2 * deploymentsRound,
      identityCalls: 1,
    });
  });

  it('reads a region catalog once per region', async () => {
    await stack.emulator.admin.resetStats();
    for (let index = 0; index < 5; index++) {
      expect((await get(stack, '/catalog/models?location=westeurope')).status).toBe(200);
    }
    expect((await stack.emulator.admin.stats()).armCalls).toBe(regionRound);
    expect((await get(stack, '/catalog/models?location=swedencentral')).status).toBe(200);
    expect((await stack.emulator.admin.stats()).armCalls).toBe(2 * regionRound);
  });
});

describe('concurrent first requests', () => {
  const BURST = 80;
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      // NOTE: the caller's own limits would otherwise turn part of the burst into 429s.
      env: { LIMIT_REQUESTS_PER_MINUTE: '100000', LIMIT_TOKENS_PER_MINUTE: '100000000' },
      emulator: { armPageSize: ARM_PAGE_SIZE },
    });
  });

  afterAll(async () => {
    await stack.stop();
  });

  it(`makes one identity-endpoint call for ${BURST} concurrent first chats`, async () => {
    const responses = await Promise.all(
      Array.from({ length: BURST }, () => postChat(stack, hello({ max_tokens: 2 }))),
    );
    const statuses = await Promise.all(
      responses.map(async (response) => {
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(statuses).toEqual(Array.from({ length: BURST }, () => 200));
    const stats = await stack.emulator.admin.stats();
    expect(stats.chatCalls).toBe(BURST);
    expect(stats.identityCalls).toBe(1);
  });

  it('makes one ARM round and one more token call for concurrent first model listings', async () => {
    await stack.emulator.admin.resetStats();
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        get(stack, index % 2 === 0 ? '/models' : '/models/gpt-4o-mini'),
      ),
    );
    const bodies = await Promise.all(responses.map((response) => response.text()));
    expect(responses.map((response) => response.status)).toEqual(Array.from({ length: 30 }, () => 200));
    expect(new Set(bodies.filter((_, index) => index % 2 === 0)).size).toBe(1);
    expect(await stack.emulator.admin.stats()).toMatchObject({
      armCalls: deploymentsRound,
      identityCalls: 1,
    });
  });
});
