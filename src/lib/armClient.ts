import type { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import type { TokenCredential } from '@azure/identity';
import type { Config } from './config';

export const MANAGEMENT_SCOPE = 'https://management.azure.com/.default';

export interface ArmClientOptions {
  /** Extra trusted CA for a local ARM emulator; production uses the system trust store. */
  ca?: string;
}

/**
 * Creates the control-plane client. The SDK is imported here, on first use, so functions that never
 * list models do not pay for loading it.
 */
export async function createArmClient(
  config: Config,
  credential: TokenCredential,
  options: ArmClientOptions = {},
): Promise<CognitiveServicesManagementClient> {
  const { CognitiveServicesManagementClient: Client } = await import('@azure/arm-cognitiveservices');
  return new Client(credential, config.arm.subscriptionId, {
    endpoint: config.arm.endpoint,
    // NOTE: without this the scope would be derived from the endpoint, which is wrong for anything but public ARM.
    credentialScopes: [MANAGEMENT_SCOPE],
    retryOptions: { maxRetries: 1, maxRetryDelayInMs: 2_000 },
    ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
  });
}
