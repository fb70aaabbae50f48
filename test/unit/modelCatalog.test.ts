import type { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { catalogEntry, createModelCatalog, deploymentEntry } from '../../src/lib/catalog/modelCatalog';
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

  it('does not cache a failed load', async () => {
    let attempts = 0;
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
    const catalog = createModelCatalog(loadConfig(baseEnv), () => Promise.resolve(client));
    await expect(catalog.deployments()).rejects.toThrow('boom');
    await expect(catalog.deployments()).resolves.toEqual([]);
  });
});
