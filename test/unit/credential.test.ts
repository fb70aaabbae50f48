import { AzureCliCredential, ManagedIdentityCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { chooseCredential, createCredential, describeCredential } from '../../src/lib/credential';

const settings = { kind: 'auto' as const, clientId: undefined, tenantId: undefined };
const identityEnv = { IDENTITY_ENDPOINT: 'http://127.0.0.1:1/msi/token', IDENTITY_HEADER: 'h' };

describe('credential selection', () => {
  it('uses the managed identity when the App Service identity endpoint is present', () => {
    expect(chooseCredential(settings, identityEnv)).toEqual({ kind: 'managedidentity', clientId: undefined });
    expect(createCredential(chooseCredential(settings, identityEnv))).toBeInstanceOf(
      ManagedIdentityCredential,
    );
  });

  it('uses the user-assigned identity named by AZURE_CLIENT_ID', () => {
    const clientId = '0d3c6e0e-7a43-4a5b-9a39-1f0c2a6f5c11';
    const choice = chooseCredential({ ...settings, clientId }, identityEnv);
    expect(choice).toEqual({ kind: 'managedidentity', clientId });
    expect(describeCredential(choice)).toContain(clientId);
  });

  it('falls back to the Azure CLI on a developer machine, pinned to AZURE_TENANT_ID', () => {
    const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    const choice = chooseCredential({ ...settings, tenantId }, {});
    expect(choice).toEqual({ kind: 'azurecli', tenantId });
    expect(createCredential(choice)).toBeInstanceOf(AzureCliCredential);
    expect(describeCredential(choice)).toContain('AZURE_TENANT_ID');
  });

  it('needs both identity variables; one alone is not a managed identity environment', () => {
    expect(chooseCredential(settings, { IDENTITY_ENDPOINT: 'http://127.0.0.1:1' }).kind).toBe('azurecli');
  });

  it('honours an explicit AZURE_CREDENTIAL over detection', () => {
    expect(chooseCredential({ ...settings, kind: 'azurecli' }, identityEnv).kind).toBe('azurecli');
    expect(chooseCredential({ ...settings, kind: 'managedidentity' }, {}).kind).toBe('managedidentity');
  });
});
