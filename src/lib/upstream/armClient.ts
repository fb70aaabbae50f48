import type { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../config';
import { ApiError } from '../errors';
import { retryAfterMs } from './retryAfter';
import { rateLimited } from './upstreamError';

export const MANAGEMENT_SCOPE = 'https://management.azure.com/.default';

/** Longest `Retry-After` the ARM client may wait out before answering the caller with a 429 instead. */
const MAX_RETRY_WAIT_MS = 2_000;

/**
 * The ARM SDK sleeps through any `Retry-After`, however long. This answers a long one at once instead, so the
 * caller gets a prompt 429 with the wait rather than a hung request. NOTE: it throws an ApiError, not a
 * RestError, because the SDK's retry policy would still wait out a RestError's response.
 */
export const boundedRetryAfter: PipelinePolicy = {
  name: 'boundedRetryAfter',
  async sendRequest(request, next) {
    const response = await next(request);
    if (response.status !== 429 && response.status !== 503) return response;
    const wait = retryAfterMs(response.headers);
    if (wait === undefined || wait <= MAX_RETRY_WAIT_MS) return response;
    if (response.status === 429) throw rateLimited(wait, 'Azure Resource Manager');
    throw new ApiError(502, 'upstream_error', 'Azure Resource Manager is unavailable. Try again later.', {
      logDetail: `ARM ${response.status} with retry-after ${Math.ceil(wait / 1000)} s`,
    });
  },
};

/**
 * Creates the control-plane client. The SDK is imported here, on first use, so functions that never
 * list models do not pay for loading it.
 */
export async function createArmClient(
  config: Config,
  credential: TokenCredential,
): Promise<CognitiveServicesManagementClient> {
  const { CognitiveServicesManagementClient: Client } = await import('@azure/arm-cognitiveservices');
  return new Client(credential, config.arm.subscriptionId, {
    endpoint: config.arm.endpoint,
    // NOTE: without this the scope would be derived from the endpoint, which is wrong for anything but public ARM.
    credentialScopes: [MANAGEMENT_SCOPE],
    retryOptions: { maxRetries: 1, maxRetryDelayInMs: MAX_RETRY_WAIT_MS },
    additionalPolicies: [{ policy: boundedRetryAfter, position: 'perRetry' }],
  });
}
