import { HttpRequest, InvocationContext } from '@azure/functions';
import type { TokenCredential } from '@azure/identity';
import { createCallerLimiter } from '../../src/lib/caller/callerLimits';
import { loadConfig, type Config } from '../../src/lib/config';
import { createGateway, type Gateway, type GatewayDeps } from '../../src/lib/gateway';
import type { ModelCatalog } from '../../src/lib/catalog/modelCatalog';
import { createOpenAIClient } from '../../src/lib/upstream/openaiClient';

/** Settings for in-process tests: anonymous callers, a fake endpoint reached only through injected fetch. */
export const baseEnv: Record<string, string> = {
  AZURE_OPENAI_ENDPOINT: 'https://unit-test.openai.azure.com',
  AZURE_OPENAI_DEPLOYMENT: 'gpt-4o-mini',
  AZURE_OPENAI_ALLOWED_DEPLOYMENTS: 'gpt-4o-mini,gpt-4o',
  AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555',
  AZURE_RESOURCE_GROUP: 'rg-unit',
  AZURE_OPENAI_ACCOUNT_NAME: 'aoai-unit',
  AZURE_LOCATION: 'eastus2',
  AUTH_MODE: 'anonymous',
  UPSTREAM_MAX_RETRIES: '0',
};

export interface LogLine {
  level: string;
  text: string;
}

export interface Harness {
  gateway: Gateway;
  config: Config;
  logs: LogLine[];
  context(name?: string): InvocationContext;
}

/** A gateway over the real openai SDK whose network edge is `fetch`. */
export function harness(
  upstream: typeof fetch,
  options: {
    env?: Record<string, string>;
    catalog?: ModelCatalog;
    authenticate?: GatewayDeps['authenticate'];
    /** Replaces the app's Entra token source (a credential that fails, for example). */
    tokenProvider?: () => Promise<string>;
    telemetry?: GatewayDeps['telemetry'];
  } = {},
): Harness {
  const config = loadConfig({ ...baseEnv, ...options.env });
  const logs: LogLine[] = [];
  const capture =
    (level: string) =>
    (...args: unknown[]) => {
      logs.push({ level, text: args.map(String).join(' ') });
    };
  const tokenSource = options.tokenProvider ?? (() => Promise.resolve('unit-test-token'));
  const credential: TokenCredential = {
    getToken: async () => ({ token: await tokenSource(), expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const gateway = createGateway({
    config,
    openai: createOpenAIClient(config, credential, { fetch: upstream }),
    catalog: options.catalog ?? { deployments: () => Promise.resolve([]), region: () => Promise.resolve([]) },
    authenticate:
      options.authenticate ??
      (() =>
        Promise.resolve({
          key: 'caller',
          hash: 'abc',
          objectId: undefined,
          tenantId: undefined,
          anonymous: true,
        })),
    limiter: createCallerLimiter(config.limits),
    credentialDescription: 'test credential',
    telemetry: options.telemetry,
    lateLog: { info: capture('information'), warn: capture('warning'), error: capture('error') },
  });
  const context = (name = 'test') =>
    new InvocationContext({
      invocationId: 'test-invocation',
      functionName: name,
      logHandler: (level, ...args) => {
        logs.push({ level, text: args.map(String).join(' ') });
      },
    });
  return { gateway, config, logs, context };
}

export function chatRequest(body: unknown, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: 'http://127.0.0.1/api/chat/completions',
    headers: { 'content-type': 'application/json', ...headers },
    body: { string: typeof body === 'string' ? body : JSON.stringify(body) },
  });
}

export function getRequest(
  path: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
): HttpRequest {
  return new HttpRequest({ method: 'GET', url: `http://127.0.0.1/api/${path}`, params, headers });
}

/** An upstream that answers every call with the same status, body and headers, counting calls. */
export function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  const calls: { url: string; body: string }[] = [];
  const fetchFn: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const sent = typeof init?.body === 'string' ? init.body : '';
    calls.push({ url, body: sent });
    return Promise.resolve(
      new Response(typeof body === 'string' ? body : JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json', ...headers },
      }),
    );
  };
  return { fetch: fetchFn, calls };
}

export async function readJson(response: { body?: unknown }): Promise<Record<string, unknown>> {
  return JSON.parse(await bodyText(response)) as Record<string, unknown>;
}

export async function bodyText(response: { body?: unknown }): Promise<string> {
  const { body } = response;
  if (typeof body === 'string') return body;
  if (body instanceof ReadableStream) return new Response(body).text();
  throw new Error('response has no body');
}
