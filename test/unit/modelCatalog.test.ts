import type { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import {
  catalogEntry,
  createModelCatalog,
  deploymentEntry,
  FAILURE_TTL_MS,
  MAX_CACHED_LISTINGS,
} from '../../src/lib/catalog/modelCatalog';
import { baseEnv } from '../support/gatewayHarness';

describe('model entries', () => {
  it('joins a deployment with its account model for lifecycle and retirement facts', () => {
    const entry = deploymentEntry(
      {
        name: 'chat',
        sku: { name: 'GlobalStandard', capacity: 50 },
        properties: {
          model: { format: 'OpenAI', name: 'gpt-4o', version: '2024-11-20' },
          capabilities: {
            chatCompletion: 'true',
            embeddings: 'false',
            maxContextToken: '128000',
            area: 'EUR',
          },
        },
        systemData: { createdAt: new Date('2025-01-02T03:04:05Z') },
      },
      {
        name: 'gpt-4o',
        version: '2024-11-20',
        lifecycleStatus: 'GenerallyAvailable',
        deprecation: { inference: '2026-03-01T00:00:00Z' },
      },
    );
    expect(entry).toMatchObject({
      id: 'chat',
      object: 'model',
      created: 1735787045,
      model: { name: 'gpt-4o', version: '2024-11-20' },
      capabilities: { chatCompletion: true, embeddings: false, maxContextToken: 128000, area: 'EUR' },
      lifecycle_status: 'GenerallyAvailable',
      retirement_date: '2026-03-01T00:00:00.000Z',
      sku: { name: 'GlobalStandard', capacity: 50 },
    });
  });

  it('names catalog entries by model and version and keeps their SKUs', () => {
    const entry = catalogEntry({
      kind: 'OpenAI',
      model: {
        name: 'gpt-4o-mini',
        version: '2024-07-18',
        isDefaultVersion: true,
        skus: [{ name: 'Standard', capacity: { default: 10, maximum: 100 } }],
      },
    });
    expect(entry).toMatchObject({
      id: 'gpt-4o-mini@2024-07-18',
      is_default_version: true,
      skus: [{ name: 'Standard', capacity_default: 10, capacity_max: 100 }],
    });
  });
});

/** Pages served the way the ARM SDK's list iterators yield them. */
async function* items<T>(list: T[]): AsyncIterableIterator<T> {
  for (const item of list) {
    await Promise.resolve();
    yield item;
  }
}

describe('the model catalog', () => {
  it('lists only allowed deployments, loads once per TTL and shares a load among concurrent callers', async () => {
    let loads = 0;
    let now = 0;
    const client = {
      deployments: {
        list: () => {
          loads++;
          return items([
            { name: 'gpt-4o-mini', properties: { model: { name: 'gpt-4o-mini', version: '2024-07-18' } } },
            { name: 'hidden', properties: { model: { name: 'gpt-4o', version: '2024-11-20' } } },
          ]);
        },
      },
      accounts: {
        listModels: () =>
          items([{ name: 'gpt-4o-mini', version: '2024-07-18', lifecycleStatus: 'GenerallyAvailable' }]),
      },
      models: { list: () => items([]) },
    } as unknown as CognitiveServicesManagementClient;
    const catalog = createModelCatalog(
      loadConfig({ ...baseEnv, MODELS_CACHE_TTL_SECONDS: '60' }),
      () => Promise.resolve(client),
      () => now,
    );
    const [first] = await Promise.all([catalog.deployments(), catalog.deployments(), catalog.deployments()]);
    expect(first.map((entry) => entry.id)).toEqual(['gpt-4o-mini']);
    expect(first[0]?.lifecycle_status).toBe('GenerallyAvailable');
    expect(loads).toBe(1);
    now += 59_000;
    await catalog.deployments();
    expect(loads).toBe(1);
    now += 2_000;
    await catalog.deployments();
    expect(loads).toBe(2);
  });

  it('remembers a failed load briefly, so a failing ARM sees one call instead of a herd', async () => {
    let attempts = 0;
    let now = 0;
    const client = {
      deployments: {
        list: () => {
          attempts++;
          if (attempts === 1) throw Object.assign(new Error('boom'), { name: 'RestError', statusCode: 500 });
          return items([]);
        },
      },
      accounts: { listModels: () => items([]) },
    } as unknown as CognitiveServicesManagementClient;
    const catalog = createModelCatalog(
      loadConfig(baseEnv),
      () => Promise.resolve(client),
      () => now,
    );
    const herd = await Promise.allSettled(Array.from({ length: 20 }, () => catalog.deployments()));
    expect(herd.every((result) => result.status === 'rejected')).toBe(true);
    now += FAILURE_TTL_MS - 1;
    await expect(catalog.deployments()).rejects.toThrow('boom');
    expect(attempts).toBe(1);
    now += 1;
    await expect(catalog.deployments()).resolves.toEqual([]);
    expect(attempts).toBe(2);
  });

  it('answers 400 naming location for a region ARM does not know, and remembers that briefly', async () => {
    let calls = 0;
    const client = {
      models: {
        list: () => {
          calls++;
          throw Object.assign(new Error('No registered resource provider found'), {
            name: 'RestError',
            statusCode: 400,
            code: 'NoRegisteredProviderFound',
          });
        },
      },
    } as unknown as CognitiveServicesManagementClient;
    const catalog = createModelCatalog(loadConfig(baseEnv), () => Promise.resolve(client));
    for (let i = 0; i < 3; i++) {
      await expect(catalog.region('atlantis')).rejects.toMatchObject({
        status: 400,
        code: 'invalid_location',
        param: 'location',
      });
    }
    expect(calls).toBe(1);
  });

  it('evicts the least recently used listing when full, so new keys cannot flush the ones in use', async () => {
    const loads: string[] = [];
    const client = {
      models: {
        list: (location: string) => {
          loads.push(location);
          return items([]);
        },
      },
    } as unknown as CognitiveServicesManagementClient;
    const catalog = createModelCatalog(loadConfig(baseEnv), () => Promise.resolve(client));
    await catalog.region('eastus2');
    for (let i = 0; i < MAX_CACHED_LISTINGS * 3; i++) {
      await catalog.region(`region${String(i)}`);
      await catalog.region('eastus2');
    }
    expect(loads.filter((location) => location === 'eastus2')).toHaveLength(1);
    const before = loads.length;
    await catalog.region('region0');
    expect(loads.length).toBe(before + 1);
  });
});
