import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { buildOpenApiDocument } from '../../src/lib/openapi';
import { startStack, type Stack } from '../support/stack';
import { Contract, type ObservedResponse } from './contract';

/**
 * The same document checks over real HTTP: the built app in the local Functions host, Azure OpenAI and ARM
 * played by the emulator, every response as a client receives it.
 */

let stack: Stack;
let contract: Contract;

beforeAll(async () => {
  // NOTE: no SDK retries, so an injected upstream failure answers at once.
  stack = await startStack({ env: { UPSTREAM_MAX_RETRIES: '0' } });
  contract = new Contract(
    buildOpenApiDocument(loadConfig({ ...stack.emulator.appSettings(), UPSTREAM_MAX_RETRIES: '0' })),
  );
}, 90_000);

afterAll(async () => {
  await stack.stop();
});

beforeEach(async () => {
  await stack.emulator.admin.reset();
});

async function call(
  method: 'get' | 'post',
  path: string,
  options: { query?: string; body?: unknown; token?: string | null } = {},
): Promise<ObservedResponse> {
  const token = options.token === undefined ? stack.callerToken : options.token;
  const response = await fetch(`${stack.apiBaseUrl}${path}${options.query ?? ''}`, {
    method: method.toUpperCase(),
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Calls `method path` and checks the answer against the document's description of `documented`. */
async function conforming(
  documented: string,
  method: 'get' | 'post',
  path: string,
  options: Parameters<typeof call>[2] = {},
): Promise<ObservedResponse> {
  const observed = await call(method, path, options);
  expect(contract.check(documented, method, observed)).toEqual([]);
  return observed;
}

const hello = { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 };

describe('responses of the running app match the OpenAPI document it serves', () => {
  it('serves the document for its own settings', async () => {
    const served = await conforming('/openapi.json', 'get', '/openapi.json', { token: null });
    expect(JSON.parse(served.body)).toEqual(contract.document);
  });

  it('lists deployments and finds one, or answers 401 and 404', async () => {
    const list = await conforming('/models', 'get', '/models');
    const first = (JSON.parse(list.body) as { data: { id: string }[] }).data[0];
    expect(first).toBeDefined();
    await conforming('/models/{id}', 'get', `/models/${first?.id ?? ''}`);
    expect((await conforming('/models/{id}', 'get', '/models/no-such-deployment')).status).toBe(404);
    expect((await conforming('/models', 'get', '/models', { token: null })).status).toBe(401);
  });

  it('lists a region catalog, or answers 400 for a bad region', async () => {
    await conforming('/catalog/models', 'get', '/catalog/models', { query: '?capability=chatCompletion' });
    expect(
      (await conforming('/catalog/models', 'get', '/catalog/models', { query: '?location=Not-A-Region' }))
        .status,
    ).toBe(400);
  });

  it('completes a chat, streamed and not, and maps upstream failures', async () => {
    expect((await conforming('/chat/completions', 'post', '/chat/completions', { body: hello })).status).toBe(
      200,
    );
    const stream = await conforming('/chat/completions', 'post', '/chat/completions', {
      body: { ...hello, stream: true, stream_options: { include_usage: true } },
    });
    expect(stream.body).toContain('data: [DONE]');

    const cut = await conforming('/chat/completions', 'post', '/chat/completions', {
      body: { ...hello, messages: [{ role: 'user', content: '[[block-completion]]' }], stream: true },
    });
    expect(cut.body).toContain('"finish_reason":"content_filter"');
    const blocked = await conforming('/chat/completions', 'post', '/chat/completions', {
      body: { messages: [{ role: 'user', content: '[[block-prompt]]' }] },
    });
    expect(blocked.status).toBe(400);

    await stack.emulator.admin.setFault({
      kind: 'status',
      target: 'openai',
      status: 429,
      count: 1,
      retryAfterSeconds: 7,
    });
    const limited = await conforming('/chat/completions', 'post', '/chat/completions', { body: hello });
    expect([limited.status, (limited.headers as Headers).get('retry-after')]).toEqual([429, '7']);

    await stack.emulator.admin.setFault({ kind: 'status', target: 'openai', status: 500, count: 1 });
    expect((await conforming('/chat/completions', 'post', '/chat/completions', { body: hello })).status).toBe(
      502,
    );
  });

  it('creates a response, streamed and not, and refuses stored state', async () => {
    expect((await conforming('/responses', 'post', '/responses', { body: { input: 'Hello' } })).status).toBe(
      200,
    );
    const stream = await conforming('/responses', 'post', '/responses', {
      body: { input: 'Hello', stream: true },
    });
    expect(stream.body).toContain('event: response.completed');
    const refused = await conforming('/responses', 'post', '/responses', {
      body: { input: 'Hello', previous_response_id: 'resp_1' },
    });
    expect(refused.status).toBe(400);
  });

  it('reports health, shallow and deep, and refuses a deep check without a token', async () => {
    await conforming('/health', 'get', '/health', { token: null });
    const deep = await conforming('/health', 'get', '/health', { query: '?deep=true' });
    expect(deep.status).toBe(200);
    expect((await conforming('/health', 'get', '/health', { query: '?deep=true', token: null })).status).toBe(
      401,
    );
  });
});
