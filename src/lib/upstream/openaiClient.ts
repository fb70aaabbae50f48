import { AsyncLocalStorage } from 'node:async_hooks';
import type { TokenCredential } from '@azure/identity';
import { getBearerTokenProvider } from '@azure/identity';
import OpenAI, { AzureOpenAI } from 'openai';
import type { Config } from '../config';
import { retryAfterMs } from './retryAfter';

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

/** The deadline (epoch ms) of the request being served; the fetch wrapper reads it to bound retry waits. */
export const upstreamDeadline = new AsyncLocalStorage<number>();

/** Attempts of the upstream call in progress: the SDK retries inside one call, out of the caller's sight. */
export const upstreamAttempts = new AsyncLocalStorage<{ count: number }>();

type Fetch = typeof fetch;

/** The longest wait openai-node sleeps as asked; a longer `retry-after` it replaces with its own 0.5–8 s backoff. */
export const SDK_LONGEST_HONOURED_WAIT_MS = 60_000;

/**
 * True when the SDK would retry before the time the upstream asked for (openai 7.x `retryRequest` treats a
 * wait over 60 s as absent), so the request must not be retried at all.
 */
export function sdkWouldRetryEarly(waitMs: number): boolean {
  return waitMs > SDK_LONGEST_HONOURED_WAIT_MS;
}

/**
 * Tells the SDK not to retry when the upstream's requested wait would outlive the request's time budget, or
 * is longer than the SDK honours, so a long `retry-after` becomes a prompt 429 for the caller instead of a
 * silent sleep or an early retry against an upstream that asked us to wait.
 */
export function budgetAwareFetch(inner: Fetch = fetch): Fetch {
  return async (input, init) => {
    const attempts = upstreamAttempts.getStore();
    if (attempts) attempts.count += 1;
    const response = await inner(input, init);
    const deadline = upstreamDeadline.getStore();
    if (deadline === undefined || (response.status !== 429 && response.status < 500)) return response;
    const wait = retryAfterMs(response.headers);
    if (wait === undefined || (Date.now() + wait <= deadline && !sdkWouldRetryEarly(wait))) return response;
    const headers = new Headers(response.headers);
    headers.set('x-should-retry', 'false');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}

/** True for the v1 API (`v1`, or `preview` for its preview features); false for a dated `api-version`. */
export const isV1ApiVersion = (apiVersion: string): boolean =>
  apiVersion === 'v1' || apiVersion === 'preview';

export interface OpenAIClientOptions {
  /** The network edge, as openai-node's own `fetch` option; the time-budget wrapper goes around it. Default: global fetch. */
  fetch?: Fetch;
}

/**
 * The one Azure OpenAI client of the process. On the v1 API (the default) it is the plain `OpenAI` client with
 * base URL `{endpoint}/openai/v1/` and the Entra token provider as `apiKey` (openai ≥ 5.18 calls it before every
 * request), the deployment going in `model`; with a dated `api-version` it is `AzureOpenAI`, which puts the
 * deployment in the path.
 */
export function createOpenAIClient(
  config: Config,
  credential: TokenCredential,
  options: OpenAIClientOptions = {},
): OpenAI {
  const { endpoint, apiVersion } = config.openai;
  const tokenProvider = getBearerTokenProvider(credential, COGNITIVE_SERVICES_SCOPE);
  const common = {
    maxRetries: config.upstream.maxRetries,
    timeout: config.upstream.timeoutMs,
    fetch: budgetAwareFetch(options.fetch ?? fetch),
    // NOTE: explicit nulls keep the SDK from reading OPENAI_ORG_ID / OPENAI_PROJECT_ID from the environment.
    organization: null,
    project: null,
  };
  if (isV1ApiVersion(apiVersion)) {
    return new OpenAI({
      ...common,
      baseURL: `${endpoint}/openai/v1/`,
      apiKey: tokenProvider,
      ...(apiVersion === 'preview' ? { defaultQuery: { 'api-version': 'preview' } } : {}),
    });
  }
  return new AzureOpenAI({ ...common, endpoint, apiVersion, azureADTokenProvider: tokenProvider });
}
