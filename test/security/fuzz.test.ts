import { HttpRequest } from '@azure/functions';
import fc from 'fast-check';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/lib/caller/callerAuth';
import { loadConfig } from '../../src/lib/config';
import type { Handler } from '../../src/lib/gateway';
import type { GatewayResponse } from '../../src/lib/http';
import type { ModelEntry } from '../../src/lib/catalog/modelCatalog';
import { answer, baseEnv, bodyText, harness, type Harness } from '../support/gatewayHarness';

/**
 * Property-based hardening: whatever arrives, every endpoint answers below 500 in the one error shape,
 * never crashes, and still serves a good request afterwards.
 */

const tenantId = '8f4b3a2e-1c2d-4e5f-9a8b-7c6d5e4f3a2b';
const audience = '5d3f0e4a-6b7c-4d8e-9f01-23456789abcd';
const env = {
  ...baseEnv,
  AUTH_MODE: 'entra',
  AUTH_TENANT_ID: tenantId,
  AUTH_CLIENT_ID: audience,
  LIMIT_REQUESTS_PER_MINUTE: '0',
  LIMIT_TOKENS_PER_MINUTE: '0',
};

const completion = {
  id: 'x',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
};

const entry: ModelEntry = {
  id: 'gpt-4o-mini',
  object: 'model',
  created: 1,
  owned_by: 'azure-openai',
  model: { name: 'gpt-4o-mini', version: '2024-07-18', format: 'OpenAI' },
  capabilities: { chatCompletion: true },
  lifecycle_status: 'GenerallyAvailable',
  retirement_date: null,
  deprecation: { inference: null, fine_tune: null },
  sku: { name: 'GlobalStandard', capacity: 10 },
};

let h: Harness;
let goodToken: string;
let rejections: unknown[] = [];

beforeAll(async () => {
  const key = await generateKeyPair('RS256');
  const keys = createLocalJWKSet({
    keys: [{ ...(await exportJWK(key.publicKey)), kid: 'k1', alg: 'RS256' }],
  });
  const now = Math.floor(Date.now() / 1000);
  goodToken = await new SignJWT({
    iss: `https://login.microsoftonline.com/${tenantId}/v2.0`,
    aud: audience,
    tid: tenantId,
    oid: 'fuzzer',
    scp: 'access_as_user',
    exp: now + 3600,
    nbf: now - 5,
  })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .sign(key.privateKey);
  h = harness(answer(200, completion).fetch, {
    env,
    catalog: { deployments: () => Promise.resolve([entry]), region: () => Promise.resolve([entry]) },
    authenticate: createAuthenticator(loadConfig(env).auth, false, { keys }),
  });
  rejections = [];
  process.on('unhandledRejection', (reason) => rejections.push(reason));
});

async function expectWellFormed(response: GatewayResponse): Promise<void> {
  expect(response.status).toBeLessThan(500);
  expect(response.headers['x-request-id']).toBeTruthy();
  if (response.status >= 400) {
    const body = JSON.parse(await bodyText(response)) as { error?: Record<string, unknown> };
    expect(Object.keys(body.error ?? {})).toEqual(
      expect.arrayContaining(['message', 'type', 'code', 'param']),
    );
  }
}

const jsonValue = fc.jsonValue({ maxDepth: 6 });
const message = fc.record(
  {
    role: fc.oneof(
      fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer', 'function'),
      fc.string(),
    ),
    content: fc.oneof(
      fc.string(),
      jsonValue,
      fc.array(fc.record({ type: fc.constantFrom('text', 'image_url'), text: fc.string() })),
    ),
    name: fc.string(),
    tool_call_id: fc.string(),
  },
  { requiredKeys: [] },
);
const plausibleBody = fc.record(
  {
    messages: fc.array(
      fc.record({ role: fc.constantFrom('user', 'system'), content: fc.string({ maxLength: 200 }) }),
      { minLength: 1, maxLength: 4 },
    ),
    model: fc.constantFrom('gpt-4o-mini', 'gpt-4o', 'not-allowed'),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    max_tokens: fc.integer({ min: 1, max: 5000 }),
    stream: fc.boolean(),
    seed: fc.integer(),
  },
  { requiredKeys: ['messages'] },
);
const chatBody = fc.oneof(
  plausibleBody,
  jsonValue,
  fc.record(
    {
      model: fc.oneof(fc.string(), fc.constantFrom('gpt-4o-mini', '../x', 'a/b', '%2e%2e')),
      messages: fc.oneof(fc.array(message, { maxLength: 5 }), jsonValue),
      temperature: fc.oneof(fc.double(), jsonValue),
      max_tokens: fc.oneof(fc.integer(), jsonValue),
      n: fc.integer({ min: -5, max: 50 }),
      stream: fc.oneof(fc.boolean(), jsonValue),
      stop: jsonValue,
      tools: jsonValue,
      logit_bias: jsonValue,
      data_sources: jsonValue,
      __proto__: jsonValue,
      constructor: jsonValue,
    },
    { requiredKeys: [] },
  ),
);
const headerValue = fc.string({
  unit: fc.constantFrom(...'abcXYZ019 ._-/=;:+,"\''.split('')),
  maxLength: 80,
});
const authorization = fc.oneof(
  fc.constant(undefined),
  headerValue,
  headerValue.map((value) => `Bearer ${value}`),
  fc.constant('Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.'),
  fc
    .string({ maxLength: 40 })
    .map((tail) => `Bearer ${goodToken.slice(0, -10)}${tail.replace(/[^A-Za-z0-9_-]/g, '')}`),
);
const contentType = fc.oneof(
  fc.constant('application/json'),
  fc.constant('application/json; charset=utf-8'),
  headerValue,
  fc.constant(undefined),
);

function request(
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string | undefined>; params?: Record<string, string> } = {},
): HttpRequest {
  const headers = Object.fromEntries(
    Object.entries(init.headers ?? {}).filter((pair): pair is [string, string] => pair[1] !== undefined),
  );
  return new HttpRequest({
    method,
    url: `http://127.0.0.1/api/${path}`,
    headers,
    ...(init.params ? { params: init.params } : {}),
    ...(init.body !== undefined ? { body: { string: init.body } } : {}),
  });
}

const call = (handler: Handler, req: HttpRequest) => handler(req, h.context());

describe('malformed and hostile input', () => {
  it('chat completions answers every random body, content type and token with a well-formed 4xx or a 200', async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        chatBody,
        contentType,
        authorization,
        fc.boolean(),
        async (body, type, auth, valid) => {
          const response = await call(
            h.gateway.chatCompletions,
            request('POST', 'chat/completions', {
              body: JSON.stringify(body),
              headers: { 'content-type': type, authorization: valid ? `Bearer ${goodToken}` : auth },
            }),
          );
          seen.add(response.status);
          await expectWellFormed(response);
          if (response.body instanceof ReadableStream) await response.body.cancel();
        },
      ),
      { numRuns: 1500, seed: 20261128 },
    );
    // NOTE: the generators must reach every layer: auth, media type, parsing, schema and the upstream call.
    expect([...seen]).toEqual(expect.arrayContaining([200, 400, 401, 415]));
  });

  it('chat completions survives raw byte soup that is not JSON at all', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (raw) => {
        const response = await call(
          h.gateway.chatCompletions,
          request('POST', 'chat/completions', {
            body: raw,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${goodToken}` },
          }),
        );
        await expectWellFormed(response);
      }),
      { numRuns: 500, seed: 7 },
    );
  });

  it('model, catalog and health routes answer random ids, query strings and tokens below 500', async () => {
    const query = fc.dictionary(
      fc.constantFrom('location', 'capability', 'deep', 'x'),
      fc.string({ maxLength: 60 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 100 }),
        query,
        authorization,
        fc.boolean(),
        async (id, params, auth, valid) => {
          const headers = { authorization: valid ? `Bearer ${goodToken}` : auth };
          const search = new URLSearchParams(params).toString();
          await expectWellFormed(
            await call(
              h.gateway.getModel,
              request('GET', `models/${encodeURIComponent(id)}`, { headers, params: { id } }),
            ),
          );
          await expectWellFormed(
            await call(h.gateway.listCatalogModels, request('GET', `catalog/models?${search}`, { headers })),
          );
          await expectWellFormed(
            await call(h.gateway.listModels, request('GET', `models?${search}`, { headers })),
          );
          await expectWellFormed(
            await call(h.gateway.health, request('GET', `health?${search}`, { headers })),
          );
        },
      ),
      { numRuns: 400, seed: 11 },
    );
  });

  it('stays healthy afterwards: no unhandled rejection, and a good request still succeeds', async () => {
    const response = await call(
      h.gateway.chatCompletions,
      request('POST', 'chat/completions', {
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${goodToken}` },
      }),
    );
    expect(response.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(rejections).toEqual([]);
  });
});
