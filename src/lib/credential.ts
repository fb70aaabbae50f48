import { AzureCliCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { managedIdentityPresent, type Config } from './config';

/** The credential this process uses, chosen explicitly (never DefaultAzureCredential) and described for the log. */
export type CredentialChoice =
  | { kind: 'managedidentity'; clientId: string | undefined }
  | { kind: 'azurecli'; tenantId: string | undefined };

export function chooseCredential(
  settings: Config['credential'],
  env: NodeJS.ProcessEnv = process.env,
): CredentialChoice {
  const useManagedIdentity =
    settings.kind === 'managedidentity' || (settings.kind === 'auto' && managedIdentityPresent(env));
  return useManagedIdentity
    ? { kind: 'managedidentity', clientId: settings.clientId }
    : { kind: 'azurecli', tenantId: settings.tenantId };
}

export function createCredential(choice: CredentialChoice): TokenCredential {
  if (choice.kind === 'managedidentity') {
    return choice.clientId
      ? new ManagedIdentityCredential({ clientId: choice.clientId })
      : new ManagedIdentityCredential();
  }
  // NOTE: pinning the tenant avoids the most common local failure: a token from the wrong `az login` tenant.
  return new AzureCliCredential(choice.tenantId ? { tenantId: choice.tenantId } : {});
}

/** Names and client id only; never a token. */
export function describeCredential(choice: CredentialChoice): string {
  if (choice.kind === 'managedidentity') {
    return choice.clientId
      ? `ManagedIdentityCredential (user-assigned, AZURE_CLIENT_ID=${choice.clientId})`
      : 'ManagedIdentityCredential (system-assigned)';
  }
  return choice.tenantId
    ? `AzureCliCredential (AZURE_TENANT_ID=${choice.tenantId})`
    : 'AzureCliCredential (tenant of the current az login; set AZURE_TENANT_ID to pin it)';
}
