import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requiredSettingNames, settingNames } from '../../src/lib/config';
import { baseEnv } from '../support/gatewayHarness';
import { thrown } from '../support/thrown';

describe('settings', () => {
  it('applies documented defaults when only the required settings are given', () => {
    const config = loadConfig(baseEnv);
    expect(config.openai.apiVersion).toBe('2024-10-21');
    expect(config.arm.endpoint).toBe('https://management.azure.com');
    expect(config.credential.kind).toBe('auto');
    expect(config.modelsCacheTtlMs).toBe(300_000);
  });

  it('defaults the allow-list to the configured deployment', () => {
    const config = loadConfig({ ...baseEnv, AZURE_OPENAI_ALLOWED_DEPLOYMENTS: '' });
    expect(config.openai.allowedDeployments).toEqual(['gpt-4o-mini']);
  });

  it('reports every missing or invalid setting at once, by name and never by value', () => {
    const attempt = () =>
      loadConfig({
        AZURE_OPENAI_ENDPOINT: 'ftp://very-secret-host',
        UPSTREAM_TIMEOUT_MS: 'soon',
        AUTH_MODE: 'anonymous',
      });
    expect(attempt).toThrow(ConfigError);
    const { problems } = thrown(attempt) as ConfigError;
    const named = problems.map((problem) => problem.split(' ')[0]);
    expect(named).toEqual(
      expect.arrayContaining([
        'AZURE_OPENAI_ENDPOINT',
        'AZURE_OPENAI_DEPLOYMENT',
        'AZURE_SUBSCRIPTION_ID',
        'UPSTREAM_TIMEOUT_MS',
      ]),
    );
    expect(problems.join(' ')).not.toContain('very-secret-host');
    expect(problems.join(' ')).not.toContain('soon');
  });

  it('requires a tenant and an audience when callers authenticate with Entra ID', () => {
    expect(() => loadConfig({ ...baseEnv, AUTH_MODE: 'entra' })).toThrow(/AUTH_TENANT_ID.*AUTH_CLIENT_ID/);
  });

  it('takes the API by client id and application id URI from separate settings, and tells them apart', () => {
    const entra = {
      ...baseEnv,
      AUTH_MODE: 'entra',
      AUTH_TENANT_ID: '8f4b3a2e-1c2d-4e5f-9a8b-7c6d5e4f3a2b',
      AUTH_CLIENT_ID: '5D3F0E4A-6B7C-4D8E-9F01-23456789ABCD',
    };
    expect(loadConfig(entra).auth).toMatchObject({
      clientId: '5d3f0e4a-6b7c-4d8e-9f01-23456789abcd',
      applicationIdUri: 'api://5d3f0e4a-6b7c-4d8e-9f01-23456789abcd',
      requiredScope: 'access_as_user',
      requiredRole: undefined,
    });
    expect(
      loadConfig({ ...entra, AUTH_APP_ID_URI: 'https://gateway.contoso.example' }).auth.applicationIdUri,
    ).toBe('https://gateway.contoso.example');
    expect(() =>
      loadConfig({ ...entra, AUTH_CLIENT_ID: 'api://5d3f0e4a-6b7c-4d8e-9f01-23456789abcd' }),
    ).toThrow(/AUTH_CLIENT_ID .*GUID.*AUTH_APP_ID_URI/);
    expect(() => loadConfig({ ...entra, AUTH_APP_ID_URI: '5d3f0e4a-6b7c-4d8e-9f01-23456789abcd' })).toThrow(
      /AUTH_APP_ID_URI/,
    );
    expect(() => loadConfig({ ...entra, AUTH_REQUIRED_SCOPE: 'a b' })).toThrow(/AUTH_REQUIRED_SCOPE/);
  });

  it('accepts plain http only for a loopback endpoint', () => {
    expect(loadConfig({ ...baseEnv, AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:4000/' }).openai.endpoint).toBe(
      'http://127.0.0.1:4000',
    );
    expect(() => loadConfig({ ...baseEnv, AZURE_OPENAI_ENDPOINT: 'http://example.com' })).toThrow(
      /AZURE_OPENAI_ENDPOINT/,
    );
  });

  it('rejects deployment names that could change a URL path', () => {
    expect(() => loadConfig({ ...baseEnv, AZURE_OPENAI_DEPLOYMENT: '../admin' })).toThrow(
      /AZURE_OPENAI_DEPLOYMENT/,
    );
    expect(() => loadConfig({ ...baseEnv, AZURE_OPENAI_ALLOWED_DEPLOYMENTS: 'ok,a/b' })).toThrow(
      /AZURE_OPENAI_ALLOWED_DEPLOYMENTS/,
    );
  });

  it('lists the required settings among all setting names', () => {
    expect(settingNames).toEqual(expect.arrayContaining(requiredSettingNames));
    expect(requiredSettingNames).toContain('AZURE_OPENAI_ENDPOINT');
  });
});
