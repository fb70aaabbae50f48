import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnHost, type SpawnedHost } from '../../tools/host/index';
import { buildHostApp, type HostAppFixture } from '../fixtures/buildHostApp';
import { getWithLocalPort } from '../support/getWithLocalPort';

describe('the local host without enableHttpStream', () => {
  let fixture: HostAppFixture;
  let host: SpawnedHost;

  beforeAll(async () => {
    fixture = await buildHostApp();
    host = await spawnHost({ appRoot: fixture.appRoot, env: { FIXTURE_HTTP_STREAM: 'false' } });
  });

  afterAll(async () => {
    await host.close();
    await fixture.remove();
  });

  it('hands the function the whole request as RpcHttpData and writes its buffered response', async () => {
    const response = await fetch(`${host.apiBaseUrl}/items/7?tag=a&tag=b`, {
      method: 'PUT',
      headers: { 'x-fixture': 'buffered', 'content-type': 'text/plain' },
      body: 'request body',
    });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).not.toBeNull();
    expect(response.headers.get('x-fixture-reply')).toBe('yes');
    expect(response.headers.getSetCookie()).toEqual(['fixture=cookie; Path=/; HttpOnly; SameSite=Lax']);
    expect(await response.json()).toMatchObject({
      functionName: 'items',
      method: 'PUT',
      url: `${host.apiBaseUrl}/items/7?tag=a&tag=b`,
      params: { id: '7' },
      query: { tag: 'a,b' },
      fixtureHeader: 'buffered',
      body: 'request body',
      appStarted: 'yes',
    });
  });

  it('sets client-ip to the address and port the connection came from, over any value the client sent', async () => {
    const { localPort, status, body } = await getWithLocalPort(`${host.apiBaseUrl}/items/1`, {
      'client-ip': '203.0.113.9:4711',
    });

    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ clientIp: `127.0.0.1:${localPort}` });
  });

  it('sends a streamed function body in one piece with its length', async () => {
    const response = await fetch(`${host.apiBaseUrl}/stream?count=3&intervalMs=50`);

    expect(response.headers.get('content-length')).toBe(String('chunk 1\nchunk 2\nchunk 3\n'.length));
    expect(await response.text()).toBe('chunk 1\nchunk 2\nchunk 3\n');
  });

  it('answers 500 without details when the handler throws', async () => {
    const response = await fetch(`${host.apiBaseUrl}/boom`);

    expect(response.status).toBe(500);
    expect(await response.text()).toBe('');
  });

  it('answers 200 with an empty body when the function returns no response', async () => {
    const response = await fetch(`${host.apiBaseUrl}/silent`);

    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('still enforces auth levels and unknown routes', async () => {
    const statuses = await Promise.all([
      fetch(`${host.apiBaseUrl}/secret`),
      fetch(`${host.apiBaseUrl}/secret`, { headers: { 'x-functions-key': host.keys.function } }),
      fetch(`${host.apiBaseUrl}/missing`),
    ]).then((responses) => responses.map((response) => response.status));

    expect(statuses).toEqual([401, 200, 404]);
  });
});
