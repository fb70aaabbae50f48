import type { AccountModel, Deployment, Model } from '@azure/arm-cognitiveservices';
import { CredentialUnavailableError } from '@azure/identity';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { sseUpstream } from '../support/sseUpstream';
import { createAuthenticator, type Authenticate } from '../../src/lib/caller/callerAuth';
import { loadConfig } from '../../src/lib/config';
import type { GatewayResponse } from '../../src/lib/http';
import { catalogEntry, deploymentEntry, type ModelCatalog } from '../../src/lib/catalog/modelCatalog';
import { buildGateway, gatewayHandler } from '../../src/lib/gateway';
import { buildOpenApiDocument } from '../../src/lib/openapi';
import {
  answer,
  baseEnv,
  bodyText,
  chatRequest,
  getRequest,
  harness,
  type Harness,
} from '../support/gatewayHarness';
import { Contract, type ObservedResponse } from './contract';

/**
 * Real responses of every endpoint, success and error, produced by the gateway's handlers (real SDK
 * clients, upstream reached through an injected fetch), each checked against the OpenAPI document.
 */

const contract = new Contract(buildOpenApiDocument(loadConfig(baseEnv)));
const hello = { messages: [{ role: 'user', content: 'Hello' }] };

const safe = { filtered: false, severity: 'safe' };
const filterResults = { hate: safe, self_harm: safe, sexual: safe, violence: safe };

const completion = {
  id: 'chatcmpl-AbC123',
  object: 'chat.completion',
  created: 1_733_000_000,
  model: 'gpt-4o-mini-2024-07-18',
  system_fingerprint: 'fp_0123456789',
  prompt_filter_results: [
    {
      prompt_index: 0,
      content_filter_results: { ...filterResults, jailbreak: { filtered: false, detected: false } },
    },
  ],
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hi there.', refusal: null },
      finish_reason: 'stop',
      logprobs: null,
      content_filter_results: filterResults,
    },
  ],
  usage: {
    prompt_tokens: 8,
    completion_tokens: 3,
    total_tokens: 11,
    completion_tokens_details: { reasoning_tokens: 0 },
  },
};

const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
  id: 'chatcmpl-AbC123',
  object: 'chat.completion.chunk',
  created: 1_733_000_000,
  model: 'gpt-4o-mini-2024-07-18',
  system_fingerprint: 'fp_0123456789',
  choices,
  ...extra,
});

/** Azure's SSE sequence: prompt-filter prelude, role chunk, content, finish, usage, [DONE]. */
const azureStream = [
  {
    choices: [],
    created: 0,
    id: '',
    model: '',
    object: '',
    prompt_filter_results: completion.prompt_filter_results,
  },
  chunk([
    {
      index: 0,
      delta: { role: 'assistant', content: '', refusal: null },
      finish_reason: null,
      logprobs: null,
      content_filter_results: {},
    },
  ]),
  chunk([{ index: 0, delta: { content: 'Hi' }, finish_reason: null, content_filter_results: filterResults }]),
  chunk([
    { index: 0, delta: { content: ' there.' }, finish_reason: null, content_filter_results: filterResults },
  ]),
  chunk([{ index: 0, delta: {}, finish_reason: 'stop', content_filter_results: {} }]),
  chunk([], { usage: completion.usage }),
]
  .map((event) => `data: ${JSON.stringify(event)}\n\n`)
  .concat('data: [DONE]\n\n');

const throwing =
  (error: unknown): typeof fetch =>
  () =>
    Promise.reject(error instanceof Error ? error : new Error('unexpected'));

/** An upstream that never answers until the SDK aborts the call. */
const hanging: typeof fetch = (_input, init) =>
  new Promise((_, reject) => {
    init?.signal?.addEventListener('abort', () => {
      reject(new DOMException('aborted', 'AbortError'));
    });
  });

const azureDeployments: Deployment[] = [
  {
    name: 'gpt-4o-mini',
    sku: { name: 'GlobalStandard', capacity: 50 },
    properties: {
      model: { format: 'OpenAI', name: 'gpt-4o-mini', version: '2024-07-18' },
      capabilities: { chatCompletion: 'true', jsonObjectResponse: 'true' },
    },
    systemData: { createdAt: new Date('2025-01-15T10:00:00Z') },
  },
  {
    name: 'gpt-4o',
    sku: { name: 'Standard', capacity: 10 },
    properties: { model: { format: 'OpenAI', name: 'gpt-4o', version: '2024-11-20' } },
  },
];

const accountModels: AccountModel[] = [
  {
    format: 'OpenAI',
    name: 'gpt-4o-mini',
    version: '2024-07-18',
    lifecycleStatus: 'GenerallyAvailable',
    capabilities: { chatCompletion: 'true' },
    deprecation: { inference: '2026-02-27T00:00:00Z', fineTune: '2026-03-31T00:00:00Z' },
  },
];

const regionModels: Model[] = [
  {
    kind: 'OpenAI',
    skuName: 'S0',
    model: {
      format: 'OpenAI',
      name: 'gpt-4o-mini',
      version: '2024-07-18',
      isDefaultVersion: true,
      lifecycleStatus: 'GenerallyAvailable',
      capabilities: { chatCompletion: 'true' },
      skus: [{ name: 'GlobalStandard', capacity: { default: 10, maximum: 1000 } }],
      deprecation: { inference: '2026-02-27T00:00:00Z' },
    },
  },
  {
    kind: 'OpenAI',
    skuName: 'S0',
    model: {
      format: 'OpenAI',
      name: 'text-embedding-3-small',
      version: '1',
      capabilities: { embeddings: 'true' },
      skus: [{ name: 'Standard' }],
    },
  },
];

/** The real entry builders over ARM-shaped objects; ARM itself is reached in the stack test. */
const catalog: ModelCatalog = {
  deployments: () =>
    Promise.resolve(
      azureDeployments.map((deployment, index) =>
        deploymentEntry(deployment, index === 0 ? accountModels[0] : undefined),
      ),
    ),
  region: () => Promise.resolve(regionModels.map(catalogEntry)),
};

/** What the ARM SDK throws for an HTTP error. */
function restError(statusCode: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`ARM ${statusCode}`), {
    name: 'RestError',
    statusCode,
    code: statusCode === 403 ? 'AuthorizationFailed' : 'Error',
    response: { headers: { get: (name: string) => headers[name] } },
  });
}

const failingCatalog = (error: unknown): ModelCatalog => ({
  deployments: () => Promise.reject(error instanceof Error ? error : new Error('unexpected')),
  region: () => Promise.reject(error instanceof Error ? error : new Error('unexpected')),
});

async function observe(response: GatewayResponse): Promise<ObservedResponse> {
  return { status: response.status, headers: response.headers, body: await bodyText(response) };
}

const conforms = async (path: string, method: 'get' | 'post', response: GatewayResponse) => {
  const observed = await observe(response);
  expect(contract.check(path, method, observed)).toEqual([]);
  return observed;
};

const postChat = async (h: Harness, body: unknown, headers: Record<string, string> = {}) =>
  conforms(
    '/chat/completions',
    'post',
    await h.gateway.chatCompletions(chatRequest(body, headers), h.context()),
  );

const errorCode = (observed: ObservedResponse): unknown =>
  (JSON.parse(observed.body) as { error: { code: unknown } }).error.code;

const tenantId = '8f4b3a2e-1c2d-4e5f-9a8b-7c6d5e4f3a2b';
const entraEnv = {
  AUTH_MODE: 'entra',
  AUTH_TENANT_ID: tenantId,
  AUTH_CLIENT_ID: '5d3f0e4a-6b7c-4d8e-9f01-23456789abcd',
  AUTH_REQUIRED_SCOPE: 'access_as_user',
};
let authenticate: Authenticate;
let tokenWithoutScope: string;

beforeAll(async () => {
  const key = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(key.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const config = loadConfig({ ...baseEnv, ...entraEnv });
  authenticate = createAuthenticator(config.auth, false, { keys: createLocalJWKSet({ keys: [jwk] }) });
  const now = Math.floor(Date.now() / 1000);
  tokenWithoutScope = await new SignJWT({
    iss: `${config.auth.authorityHost}/${tenantId}/v2.0`,
    aud: '5d3f0e4a-6b7c-4d8e-9f01-23456789abcd',
    tid: tenantId,
    oid: 'user-1',
    scp: 'User.Read',
    exp: now + 600,
  })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .sign(key.privateKey);
});

const signedIn = (
  upstream: typeof fetch = answer(200, completion).fetch,
  options: { catalog?: ModelCatalog } = {},
) => harness(upstream, { env: entraEnv, authenticate, ...options });

describe('POST /chat/completions responses match the OpenAPI document', () => {
  it('a completion', async () => {
    const observed = await postChat(harness(answer(200, completion).fetch), hello);
    expect(observed.status).toBe(200);
  });

  it('a stream of Azure’s events ending with [DONE]', async () => {
    const observed = await postChat(harness(sseUpstream(azureStream)), {
      ...hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(observed.status).toBe(200);
    expect(observed.body.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('a stream that breaks after it started, ending with an error event', async () => {
    const observed = await postChat(
      harness(sseUpstream([...azureStream.slice(0, 3), { fail: new TypeError('terminated') }])),
      { ...hello, stream: true },
    );
    expect(observed.body).toContain('"code":"upstream_error"');
  });

  it.each([
    ['a body that is not JSON', '{"messages": [', 400, 'invalid_json'],
    ['an unknown field', { ...hello, data_sources: [] }, 400, 'invalid_request'],
    ['a value out of range', { ...hello, temperature: 7 }, 400, 'invalid_request'],
    ['a deployment that is not allowed', { ...hello, model: 'gpt-35-turbo' }, 404, 'model_not_found'],
  ])('%s', async (_name, body, status, code) => {
    const observed = await postChat(harness(answer(200, completion).fetch), body);
    expect([observed.status, errorCode(observed)]).toEqual([status, code]);
  });

  it('a body not declared as JSON', async () => {
    const observed = await postChat(harness(answer(200, completion).fetch), hello, {
      'content-type': 'text/plain',
    });
    expect(observed.status).toBe(415);
  });

  it('a body over the size limit', async () => {
    const h = harness(answer(200, completion).fetch, { env: { MAX_BODY_BYTES: '2048' } });
    const observed = await postChat(h, { messages: [{ role: 'user', content: 'x'.repeat(4000) }] });
    expect(observed.status).toBe(413);
  });

  it('a prompt blocked by the content filter, with its categories', async () => {
    const blocked = {
      error: {
        message:
          'The response was filtered due to the prompt triggering Azure OpenAI’s content management policy.',
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        innererror: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_result: {
            ...filterResults,
            hate: { filtered: true, severity: 'high' },
            jailbreak: { filtered: false, detected: false },
          },
        },
      },
    };
    const observed = await postChat(harness(answer(400, blocked).fetch), hello);
    expect([observed.status, errorCode(observed)]).toEqual([400, 'content_filter']);
    expect(observed.body).toContain('"hate":{"filtered":true');
  });

  it('another upstream 400, its code kept', async () => {
    const tooLong = {
      error: {
        message: "This model's maximum context length is 128000 tokens.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    };
    const observed = await postChat(harness(answer(400, tooLong).fetch), hello);
    expect(errorCode(observed)).toBe('context_length_exceeded');
  });

  it('no token, and a token without the required scope', async () => {
    const missing = await postChat(signedIn(), hello);
    expect([missing.status, errorCode(missing)]).toEqual([401, 'invalid_token']);
    const unscoped = await postChat(signedIn(), hello, { authorization: `Bearer ${tokenWithoutScope}` });
    expect([unscoped.status, errorCode(unscoped)]).toEqual([403, 'insufficient_scope']);
  });

  it('Azure’s rate limit, with the wait', async () => {
    const limited = answer(
      429,
      { error: { code: '429', message: 'Please retry after 6 seconds.' } },
      {
        'retry-after': '6',
        'retry-after-ms': '6000',
      },
    );
    const observed = await postChat(harness(limited.fetch), hello);
    expect([observed.status, (observed.headers as Record<string, string>)['retry-after']]).toEqual([
      429,
      '6',
    ]);
  });

  it('the caller’s own rate limit', async () => {
    const h = harness(answer(200, completion).fetch, { env: { LIMIT_REQUESTS_PER_MINUTE: '1' } });
    await postChat(h, hello);
    const observed = await postChat(h, hello);
    expect([observed.status, errorCode(observed)]).toEqual([429, 'caller_rate_limited']);
  });

  it.each([
    [
      'the role is missing',
      401,
      { error: { code: 'PermissionDenied', message: 'lacks the data action' } },
      'upstream_permission_denied',
    ],
    [
      'the deployment is gone',
      404,
      { error: { code: 'DeploymentNotFound', message: 'no deployment' } },
      'upstream_deployment_not_found',
    ],
    ['Azure fails', 500, { error: { code: 'InternalServerError', message: 'boom' } }, 'upstream_error'],
  ])('an upstream failure: %s', async (_name, status, body, code) => {
    const observed = await postChat(harness(answer(status, body).fetch), hello);
    expect([observed.status, errorCode(observed)]).toEqual([502, code]);
  });

  it('no Entra token for Azure', async () => {
    const observed = await postChat(
      harness(throwing(new CredentialUnavailableError('Please run az login.'))),
      hello,
    );
    expect([observed.status, errorCode(observed)]).toEqual([503, 'credential_unavailable']);
  });

  it('Azure does not answer in time', async () => {
    const observed = await postChat(harness(hanging, { env: { UPSTREAM_TIMEOUT_MS: '1000' } }), hello);
    expect([observed.status, errorCode(observed)]).toEqual([504, 'upstream_timeout']);
  });
});

describe('model listing responses match the OpenAPI document', () => {
  const getModels = async (h: Harness) =>
    conforms('/models', 'get', await h.gateway.listModels(getRequest('models'), h.context()));
  const getModel = async (h: Harness, id: string) =>
    conforms(
      '/models/{id}',
      'get',
      await h.gateway.getModel(getRequest(`models/${id}`, { id }), h.context()),
    );
  const getCatalog = async (h: Harness, query: string) =>
    conforms(
      '/catalog/models',
      'get',
      await h.gateway.listCatalogModels(getRequest(`catalog/models${query}`), h.context()),
    );

  it('the deployments, with model, version and retirement date', async () => {
    const observed = await getModels(harness(answer(200, completion).fetch, { catalog }));
    expect(observed.body).toContain('"retirement_date":"2026-02-27T00:00:00.000Z"');
  });

  it('the deployments without a token, and when ARM refuses, rate limits or fails oddly', async () => {
    expect((await getModels(signedIn())).status).toBe(401);
    const armDenied = await getModels(
      harness(answer(200, completion).fetch, { catalog: failingCatalog(restError(403)) }),
    );
    expect([armDenied.status, errorCode(armDenied)]).toEqual([502, 'upstream_permission_denied']);
    const armLimited = harness(answer(200, completion).fetch, {
      catalog: failingCatalog(restError(429, { 'retry-after': '12' })),
    });
    expect((await getModels(armLimited)).status).toBe(429);
    const broken = await getModels(
      harness(answer(200, completion).fetch, { catalog: failingCatalog(new Error('x')) }),
    );
    expect([broken.status, errorCode(broken)]).toEqual([500, 'internal_error']);
  });

  it('one deployment, and one that does not exist', async () => {
    const h = harness(answer(200, completion).fetch, { catalog });
    expect((await getModel(h, 'gpt-4o-mini')).status).toBe(200);
    const missing = await getModel(h, 'gpt-35-turbo');
    expect([missing.status, errorCode(missing)]).toEqual([404, 'model_not_found']);
  });

  it('a region catalog, filtered, and invalid filters', async () => {
    const h = harness(answer(200, completion).fetch, { catalog });
    const all = await getCatalog(h, '?location=swedencentral');
    expect(all.body).toContain(
      '"skus":[{"name":"GlobalStandard","capacity_default":10,"capacity_max":1000}]',
    );
    const chat = await getCatalog(h, '?capability=chatCompletion');
    expect(chat.body).not.toContain('text-embedding-3-small');
    expect((await getCatalog(h, '?location=Sweden%20Central')).status).toBe(400);
    expect((await getCatalog(h, '?capability=chat%20completion')).status).toBe(400);
  });
});

describe('health and document responses match the OpenAPI document', () => {
  const getHealth = async (h: Harness, query = '') =>
    conforms('/health', 'get', await h.gateway.health(getRequest(`health${query}`), h.context()));

  it('liveness, a deep check that passes and one that is not ready yet', async () => {
    expect((await getHealth(harness(answer(200, completion).fetch))).status).toBe(200);
    const deep = await getHealth(harness(answer(200, completion).fetch), '?deep=true');
    expect(deep.body).toContain('"checks":{"token":"ok","chat":"ok"}');
    const denied = answer(401, { error: { code: 'PermissionDenied', message: 'lacks the data action' } });
    const pending = await getHealth(harness(denied.fetch), '?deep=true');
    expect([pending.status, errorCode(pending)]).toEqual([503, 'role_assignment_pending']);
    expect((await getHealth(signedIn(), '?deep=true')).status).toBe(401);
  });

  it('the document itself, and the error when the app settings are invalid', async () => {
    const h = harness(answer(200, {}).fetch);
    const served = await conforms(
      '/openapi.json',
      'get',
      await h.gateway.openApiDocument(getRequest('openapi.json'), h.context()),
    );
    expect(JSON.parse(served.body)).toEqual(contract.document);
    expect(h.logs.map((line) => line.text).join('\n')).toContain('"function":"openApiDocument"');
    const misconfigured = gatewayHandler('openApiDocument', () => buildGateway({}));
    const broken = await conforms(
      '/openapi.json',
      'get',
      await misconfigured(getRequest('openapi.json'), h.context()),
    );
    expect([broken.status, errorCode(broken)]).toEqual([500, 'configuration_error']);
  });
});

describe('coverage of the document', () => {
  it('saw every documented operation answer both with success and with an error', () => {
    const operations = Object.entries(
      contract.document.paths as Record<string, Record<string, unknown>>,
    ).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    const summary = operations.map((operation) => {
      const statuses = [...(contract.seen.get(operation) ?? [])];
      return {
        operation,
        success: statuses.some((status) => status < 300),
        error: statuses.some((status) => status >= 400),
      };
    });
    expect(summary).toEqual(operations.map((operation) => ({ operation, success: true, error: true })));
  });
});
