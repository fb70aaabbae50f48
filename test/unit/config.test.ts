import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requiredSettingNames, settingNames } from '../../src/lib/config';
import { baseEnv } from '../support/gatewayHarness';
import { thrown } from '../support/thrown';

describe('settings', () => {
  it('applies documented defaults when only the required settings are given', () => {
    const config = loadConfig(baseEnv);
    expect(config.openai.apiVersion).toBe('v1');
    expect(config.arm.endpoint).toBe('https://management.azure.com');
    expect(config.credential.kind).toBe('auto');
    expect(config.modelsCacheTtlMs).toBe(300_000);
  });

  it('accepts v1, preview and dated API versions, and refuses anything else', () => {
    for (const version of ['v1', 'preview', '2024-10-21', '2025-04-01-preview']) {
      expect(loadConfig({ ...baseEnv, AZURE_OPENAI_API_VERSION: version }).openai.apiVersion).toBe(version);
    }
    for (const version of ['latest', 'v2', '2024-10']) {
      expect(() => loadConfig({ ...baseEnv, AZURE_OPENAI_API_VERSION: version })).toThrow(
        /AZURE_OPENAI_API_VERSION must be v1, preview or a dated version/,
      );
    }
  });

  it('defaults the allow-list to the configured deployment', () => {
    const config = loadConfig({ ...baseEnv, AZURE_OPENAI_ALLOWED_DEPLOYMENTS: '' });
    expect(config.openai.allowedDeployments).toEqual(['gpt-4o-mini']);
  });

  it('refuses an allow-list that leaves out the default deployment, naming both settings', () => {
    const attempt = () => loadConfig({ ...baseEnv, AZURE_OPENAI_ALLOWED_DEPLOYMENTS: 'gpt-4o,gpt-4.1-nano' });
    expect(attempt).toThrow(ConfigError);
    expect((thrown(attempt) as ConfigError).problems).toEqual([
      'AZURE_OPENAI_ALLOWED_DEPLOYMENTS must include the deployment named by AZURE_OPENAI_DEPLOYMENT',
    ]);
  });

  it('compares GUID settings in lower case, however they were written', () => {
    const upper = 'AB12CD34-EF56-4A7B-8C9D-0E1F2A3B4C5D';
    const config = loadConfig({
      ...baseEnv,
      AZURE_SUBSCRIPTION_ID: upper,
      AUTH_TENANT_ID: upper,
      AZURE_TENANT_ID: upper,
      AZURE_CLIENT_ID: upper,
    });
    const lower = upper.toLowerCase();
    expect([config.arm.subscriptionId, config.auth.tenantId]).toEqual([lower, lower]);
    expect([config.credential.tenantId, config.credential.clientId]).toEqual([lower, lower]);
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

  it('counts limits in memory unless LIMITS_STORE names Redis, which then needs a host', () => {
    expect(loadConfig(baseEnv).limitsStore).toEqual({ kind: 'memory' });
    const redis = { ...baseEnv, LIMITS_STORE: 'redis' };
    expect((thrown(() => loadConfig(redis)) as ConfigError).problems).toEqual([
      'LIMITS_REDIS_HOST is required when LIMITS_STORE is redis',
    ]);
    expect(loadConfig({ ...redis, LIMITS_REDIS_HOST: 'limits.eastus2.redis.azure.net' }).limitsStore).toEqual(
      {
        kind: 'redis',
        host: 'limits.eastus2.redis.azure.net',
        port: 10000,
        tls: true,
        auth: 'entra',
        failMode: 'open',
        timeoutMs: 250,
      },
    );
  });

  it('accepts a Redis without authentication only on this machine', () => {
    const env = { ...baseEnv, LIMITS_STORE: 'redis', LIMITS_REDIS_AUTH: 'none', LIMITS_REDIS_TLS: 'false' };
    expect(
      (thrown(() => loadConfig({ ...env, LIMITS_REDIS_HOST: 'limits.redis.azure.net' })) as ConfigError)
        .problems,
    ).toEqual(['LIMITS_REDIS_AUTH may be none only for a Redis on 127.0.0.1 or localhost']);
    expect(
      loadConfig({ ...env, LIMITS_REDIS_HOST: '127.0.0.1', LIMITS_REDIS_PORT: '6379' }).limitsStore,
    ).toMatchObject({
      host: '127.0.0.1',
      port: 6379,
      tls: false,
      auth: 'none',
    });
    expect(() =>
      loadConfig({ ...env, LIMITS_REDIS_HOST: '127.0.0.1', LIMITS_REDIS_FAIL_MODE: 'maybe' }),
    ).toThrow(/LIMITS_REDIS_FAIL_MODE must be open or closed/);
  });

  it('lists the required settings among all setting names', () => {
    expect(settingNames).toEqual(expect.arrayContaining(requiredSettingNames));
    expect(requiredSettingNames).toContain('AZURE_OPENAI_ENDPOINT');
  });
});
