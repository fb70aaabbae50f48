import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnHost, type SpawnedHost } from '../../tools/host/index';
import { buildHostApp, type HostAppFixture } from '../fixtures/buildHostApp';

const allowedOrigin = 'http://allowed.example';

function preflight(url: string, origin: string): Promise<Response> {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
}

describe('CORS given to the host', () => {
  let fixture: HostAppFixture;
  let host: SpawnedHost;

  beforeAll(async () => {
    fixture = await buildHostApp();
    host = await spawnHost({
      appRoot: fixture.appRoot,
      env: {},
      cors: { origins: [allowedOrigin], credentials: true },
    });
  });

  afterAll(async () => {
    await host.close();
    await fixture.remove();
  });

  it('answers a preflight from an allowed origin itself, echoing the origin, method and headers', async () => {
    const response = await preflight(`${host.apiBaseUrl}/echo`, allowedOrigin);

    expect(response.status).toBe(204);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      'access-control-allow-origin': allowedOrigin,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
    });
  });

  it('gives a preflight from another origin no CORS grant', async () => {
    const response = await preflight(`${host.apiBaseUrl}/echo`, 'http://evil.example');

    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('adds the grant to responses for an allowed origin only', async () => {
    const allowed = await fetch(`${host.apiBaseUrl}/items/1`, { headers: { origin: allowedOrigin } });
    const denied = await fetch(`${host.apiBaseUrl}/items/1`, { headers: { origin: 'http://evil.example' } });
    const streamed = await fetch(`${host.apiBaseUrl}/stream?count=1`, { headers: { origin: allowedOrigin } });

    expect(allowed.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
    expect(denied.status).toBe(200);
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    expect(streamed.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
  });
});

describe('an app directory with its own host.json and local.settings.json', () => {
  let fixture: HostAppFixture;
  let host: SpawnedHost;

  beforeAll(async () => {
    fixture = await buildHostApp({
      hostJson: { version: '2.0', extensions: { http: { routePrefix: 'v1' } } },
      localSettings: {
        IsEncrypted: false,
        Values: { FIXTURE_SETTING: 'from-local-settings', FIXTURE_OVERRIDE: 'from-local-settings' },
        Host: { CORS: 'http://from-file.example', CORSCredentials: false },
      },
    });
    host = await spawnHost({
      appRoot: fixture.appRoot,
      env: { FIXTURE_OVERRIDE: 'from-environment' },
      loadLocalSettings: true,
    });
  });

  afterAll(async () => {
    await host.close();
    await fixture.remove();
  });

  it('serves functions under the route prefix from host.json', async () => {
    const underPrefix = await fetch(`${host.url}/v1/items/1`);
    const underDefault = await fetch(`${host.url}/api/items/1`);

    expect(host.apiBaseUrl).toBe(`${host.url}/v1`);
    expect([underPrefix.status, underDefault.status]).toEqual([200, 404]);
  });

  it('loads Values into the environment without overriding variables that are already set', async () => {
    const described = (await (await fetch(`${host.apiBaseUrl}/items/1`)).json()) as {
      setting: string;
      override: string;
    };

    expect(described).toMatchObject({ setting: 'from-local-settings', override: 'from-environment' });
  });

  it('takes CORS origins from Host.CORS', async () => {
    const response = await preflight(`${host.apiBaseUrl}/echo`, 'http://from-file.example');

    expect(response.headers.get('access-control-allow-origin')).toBe('http://from-file.example');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });
});
