import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';
import { errorOf, get, json } from './http';

/**
 * The model listings over real HTTP: the app's ARM client (real SDK, https to the emulator, a token from the
 * managed identity endpoint) reading every nextLink page, joined and filtered by the gateway.
 */

const ARM_PAGE_SIZE = 2;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    // NOTE: no cache, so every listing here reads ARM afresh and can be counted on its own.
    env: { MODELS_CACHE_TTL_SECONDS: '0' },
    emulator: { armPageSize: ARM_PAGE_SIZE },
  });
});

afterAll(async () => {
  await stack.stop();
});

afterEach(async () => {
  await stack.emulator.admin.reset();
});

interface ModelEntry {
  id: string;
  object: string;
  created: number;
  owned_by: string;
  model: { name: string | null; version: string | null; format: string | null };
  capabilities: Record<string, boolean | number | string>;
  lifecycle_status: string | null;
  retirement_date: string | null;
  deprecation: { inference: string | null; fine_tune: string | null };
  sku: { name: string; capacity: number | null } | null;
  skus?: { name: string; capacity_default: number | null; capacity_max: number | null }[];
  is_default_version?: boolean;
}

interface ModelList {
  object: string;
  data: ModelEntry[];
}

const epochSeconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function list(path: string): Promise<ModelList> {
  const response = await get(stack, path);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await json<ModelList>(response);
  expect(body.object).toBe('list');
  return body;
}

const idsOf = (body: ModelList): string[] => body.data.map((entry) => entry.id);
const sorted = (values: string[]): string[] => [...values].sort();

/** The seeded account: three chat deployments allowed, the embedding deployment not. */
const gpt4o: ModelEntry = {
  id: 'gpt-4o',
  object: 'model',
  created: epochSeconds('2025-09-15T08:31:00Z'),
  owned_by: 'azure-openai',
  model: { name: 'gpt-4o', version: '2024-11-20', format: 'OpenAI' },
  capabilities: expect.objectContaining({
    chatCompletion: true,
    jsonSchemaResponse: true,
    maxContextToken: 128_000,
    maxOutputToken: 16_384,
  }) as ModelEntry['capabilities'],
  lifecycle_status: 'GenerallyAvailable',
  retirement_date: '2027-03-01T00:00:00.000Z',
  deprecation: { inference: '2027-03-01T00:00:00.000Z', fine_tune: null },
  sku: { name: 'GlobalStandard', capacity: 50 },
};

const chatCatalogIds = [
  'gpt-4o@2024-08-06',
  'gpt-4o@2024-11-20',
  'gpt-4o-mini@2024-07-18',
  'gpt-4.1@2025-04-14',
  'gpt-4.1-mini@2025-04-14',
  'gpt-4.1-nano@2025-04-14',
  'o4-mini@2025-04-16',
];
const embeddingCatalogIds = ['text-embedding-3-small@1', 'text-embedding-3-large@1'];

describe('GET /api/models', () => {
  it('lists exactly the allowed deployments, reading every ARM page', async () => {
    const body = await list('/models');
    expect(idsOf(body)).toEqual(['gpt-4.1-nano', 'gpt-4o', 'gpt-4o-mini', 'o4-mini']);
    // 5 deployments and 9 account models at 2 per page: 3 + 5 pages, so nextLink was followed.
    expect((await stack.emulator.admin.stats()).armCalls).toBe(3 + 5);
  });

  it('joins each deployment with the account’s model facts: version, capabilities, lifecycle, sku', async () => {
    const body = await list('/models');
    expect(body.data.find((entry) => entry.id === 'gpt-4o')).toEqual(gpt4o);
    expect(body.data.find((entry) => entry.id === 'gpt-4o-mini')).toMatchObject({
      model: { name: 'gpt-4o-mini', version: '2024-07-18', format: 'OpenAI' },
      lifecycle_status: 'GenerallyAvailable',
      retirement_date: '2027-02-27T00:00:00.000Z',
      deprecation: { inference: '2027-02-27T00:00:00.000Z', fine_tune: '2027-02-27T00:00:00.000Z' },
      sku: { name: 'GlobalStandard', capacity: 100 },
      created: epochSeconds('2025-09-15T08:30:00Z'),
    });
    // NOTE: on the second deployments page, joined with an account model from the third page.
    expect(body.data.find((entry) => entry.id === 'gpt-4.1-nano')).toMatchObject({
      model: { name: 'gpt-4.1-nano', version: '2025-04-14' },
      capabilities: { chatCompletion: true },
      lifecycle_status: 'GenerallyAvailable',
      retirement_date: '2027-04-14T00:00:00.000Z',
      sku: { name: 'GlobalStandard', capacity: 50 },
      created: epochSeconds('2025-10-02T14:05:00Z'),
    });
  });
});

describe('GET /api/models/{id}', () => {
  it('answers one allowed deployment, the same entry the list has', async () => {
    const response = await get(stack, '/models/gpt-4o');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(uuid);
    expect(await json<ModelEntry>(response)).toEqual(gpt4o);
  });

  it('answers 404 model_not_found in the error shape for a deployment it does not offer', async () => {
    for (const id of ['text-embedding-3-small', 'no-such-deployment', 'gpt%204o']) {
      const response = await get(stack, `/models/${id}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('x-request-id')).toMatch(uuid);
      expect(await errorOf(response)).toEqual({
        message: expect.stringContaining('does not exist or is not available') as unknown,
        type: 'not_found_error',
        code: 'model_not_found',
        param: 'id',
      });
    }
  });
});

describe('GET /api/catalog/models', () => {
  it('lists a region’s chat models when filtered by capability, leaving the embedding models out', async () => {
    const body = await list('/catalog/models?location=westeurope&capability=chatCompletion');
    expect(sorted(idsOf(body))).toEqual(sorted(chatCatalogIds));
    for (const entry of body.data) expect(entry.capabilities.chatCompletion).toBe(true);
  });

  it('reads every page of the region catalog when unfiltered', async () => {
    const body = await list('/catalog/models?location=westeurope');
    expect(sorted(idsOf(body))).toEqual(sorted([...chatCatalogIds, ...embeddingCatalogIds]));
    // 9 models at 2 per page.
    expect((await stack.emulator.admin.stats()).armCalls).toBe(5);
  });

  it('describes each catalog model with its version, lifecycle, retirement and SKUs', async () => {
    const body = await list('/catalog/models?location=westeurope&capability=chatCompletion');
    expect(body.data.find((entry) => entry.id === 'gpt-4o@2024-08-06')).toMatchObject({
      object: 'model',
      model: { name: 'gpt-4o', version: '2024-08-06', format: 'OpenAI' },
      lifecycle_status: 'Deprecating',
      retirement_date: '2026-03-31T00:00:00.000Z',
      is_default_version: false,
      sku: null,
      skus: [
        { name: 'GlobalStandard', capacity_default: 10, capacity_max: 30_000 },
        { name: 'Standard', capacity_default: 10, capacity_max: 1_000 },
      ],
    });
    expect(body.data.find((entry) => entry.id === 'gpt-4o@2024-11-20')).toMatchObject({
      lifecycle_status: 'GenerallyAvailable',
      is_default_version: true,
    });
  });

  it('requires every listed capability and defaults the region to AZURE_LOCATION', async () => {
    const embeddings = await list('/catalog/models?capability=embeddings');
    expect(sorted(idsOf(embeddings))).toEqual(sorted(embeddingCatalogIds));
    expect(embeddings.data.find((entry) => entry.id === 'text-embedding-3-large@1')?.capabilities).toEqual({
      embeddings: true,
      embeddingsMaxInputs: 2048,
      maxContextToken: 8192,
      dimensions: 3072,
    });
    expect(idsOf(await list('/catalog/models?capability=chatCompletion,embeddings'))).toEqual([]);
  });

  it('answers 400 naming the location parameter for a malformed region, without calling ARM', async () => {
    for (const location of ['West%20Europe', 'Not-A-Region', 'x']) {
      const response = await get(stack, `/catalog/models?location=${location}`);
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toMatchObject({
        type: 'invalid_request_error',
        code: 'invalid_request',
        param: 'location',
      });
    }
    expect((await stack.emulator.admin.stats()).armCalls).toBe(0);
  });

  it('answers 400 naming the capability parameter for a malformed capability', async () => {
    const response = await get(stack, '/catalog/models?location=westeurope&capability=chat-completion');
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: 'invalid_request', param: 'capability' });
  });
});
