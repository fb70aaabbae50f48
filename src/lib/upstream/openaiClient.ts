import { AsyncLocalStorage } from 'node:async_hooks';
import type { TokenCredential } from '@azure/identity';
import { getBearerTokenProvider } from '@azure/identity';
import { AzureOpenAI } from 'openai';
import type { Config } from '../config';

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

/** The deadline (epoch ms) of the request being served; the fetch wrapper reads it to bound retry waits. */
export const upstreamDeadline = new AsyncLocalStorage<number>();

type Fetch = typeof fetch;

/** Milliseconds an upstream response asks us to wait before retrying, if it says. */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms)) return ms;
  const seconds = Number.parseFloat(headers.get('retry-after') ?? '');
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

/**
 * Tells the SDK not to retry when the upstream's requested wait would outlive the request's time budget,
 * so a long `retry-after` becomes a prompt 429 for the caller instead of a silent sleep.
 */
export function budgetAwareFetch(inner: Fetch = fetch): Fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const deadline = upstreamDeadline.getStore();
    if (deadline === undefined || (response.status !== 429 && response.status < 500)) return response;
    const wait = retryAfterMs(response.headers);
    if (wait === undefined || Date.now() + wait <= deadline) return response;
    const headers = new Headers(response.headers);
    headers.set('x-should-retry', 'false');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}

export function createOpenAIClient(config: Config, credential: TokenCredential): AzureOpenAI {
  return new AzureOpenAI({
    endpoint: config.openai.endpoint,
    apiVersion: config.openai.apiVersion,
    azureADTokenProvider: getBearerTokenProvider(credential, COGNITIVE_SERVICES_SCOPE),
    maxRetries: config.upstream.maxRetries,
    timeout: config.upstream.timeoutMs,
    fetch: budgetAwareFetch(),
  });
}
