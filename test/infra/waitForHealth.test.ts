import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../../tools/bicep.mjs';
import { cli, describeBody, healthUrl, waitForHealth } from '../../tools/wait-for-health.mjs';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const servers: Server[] = [];

async function serve(handler: Handler): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Answers with each response in turn, repeating the last. */
function sequence(...responses: { status: number; body: unknown; headers?: Record<string, string> }[]): {
  handler: Handler;
  requests: IncomingMessage[];
} {
  const requests: IncomingMessage[] = [];
  const handler: Handler = (request, response) => {
    const next = responses[Math.min(requests.length, responses.length - 1)];
    requests.push(request);
    response.writeHead(next?.status ?? 500, { 'content-type': 'application/json', ...next?.headers });
    response.end(JSON.stringify(next?.body ?? {}));
  };
  return { handler, requests };
}

const pending = {
  status: 503,
  body: {
    error: {
      message: 'Not ready: role not granted yet',
      type: 'server_error',
      code: 'role_assignment_pending',
      param: null,
    },
  },
};

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('tools/wait-for-health.mjs', () => {
  it('builds the deep health URL from any form of the base URL', () => {
    expect(healthUrl('https://app.azurewebsites.net')).toBe(
      'https://app.azurewebsites.net/api/health?deep=true',
    );
    expect(healthUrl('https://app.azurewebsites.net/')).toBe(
      'https://app.azurewebsites.net/api/health?deep=true',
    );
    expect(healthUrl('https://app.azurewebsites.net/api/')).toBe(
      'https://app.azurewebsites.net/api/health?deep=true',
    );
  });

  it('summarises the error envelope, and anything else briefly', () => {
    expect(describeBody(JSON.stringify(pending.body))).toBe(
      'role_assignment_pending: Not ready: role not granted yet',
    );
    expect(describeBody('<html>\n  <body>Service Unavailable</body></html>')).toBe(
      '<html> <body>Service Unavailable</body></html>',
    );
  });

  it('keeps polling through role propagation until the gateway answers 200, sending the caller token', async () => {
    const { handler, requests } = sequence(pending, pending, { status: 200, body: { status: 'ok' } });
    const url = await serve(handler);
    const lines: string[] = [];
    const result = await waitForHealth({
      url,
      token: 'caller-token',
      timeoutMs: 10_000,
      intervalMs: 20,
      log: (line) => lines.push(line),
    });
    expect(result).toMatchObject({ ok: true, attempts: 3 });
    expect(requests.map((request) => request.url)).toEqual(Array(3).fill('/api/health?deep=true'));
    expect(requests.every((request) => request.headers.authorization === 'Bearer caller-token')).toBe(true);
    expect(lines.filter((line) => line.includes('503 role_assignment_pending'))).toHaveLength(2);
    expect(lines.join('\n')).not.toContain('caller-token');
  });

  it('gives up when the time limit passes', async () => {
    const { handler, requests } = sequence(pending);
    const url = await serve(handler);
    const result = await waitForHealth({ url, timeoutMs: 300, intervalMs: 50 });
    expect(result).toMatchObject({
      ok: false,
      reason: 'timeout',
      last: '503 role_assignment_pending: Not ready: role not granted yet',
    });
    expect(requests.length).toBeGreaterThan(1);
  });

  it('stops at once when the gateway rejects the caller token itself', async () => {
    const { handler, requests } = sequence({
      status: 401,
      body: {
        error: {
          message: 'The token audience is not accepted.',
          type: 'invalid_request_error',
          code: 'invalid_token',
          param: null,
        },
      },
      headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
    });
    const url = await serve(handler);
    const result = await waitForHealth({ url, token: 'wrong', timeoutMs: 10_000, intervalMs: 20 });
    expect(result).toMatchObject({ ok: false, reason: 'caller_auth', attempts: 1 });
    expect(requests).toHaveLength(1);
  });

  it('treats connection failures as not ready yet', async () => {
    const result = await waitForHealth({
      url: 'http://127.0.0.1:9',
      timeoutMs: 200,
      intervalMs: 50,
      requestTimeoutMs: 100,
    });
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('exits 0 when healthy, 1 on timeout, 2 on bad usage and 3 on a rejected token', async () => {
    const healthy = await serve(sequence({ status: 200, body: { status: 'ok' } }).handler);
    const stuck = await serve(sequence(pending).handler);
    const rejecting = await serve(
      sequence({
        status: 401,
        body: { error: { code: 'invalid_token' } },
        headers: { 'www-authenticate': 'Bearer' },
      }).handler,
    );
    const lines: string[] = [];
    const log = (line: string): void => {
      lines.push(line);
    };
    const env = { GATEWAY_TOKEN: 'secret-token-value' };
    expect(await cli(['--url', healthy, '--token-env', 'GATEWAY_TOKEN'], env, log)).toBe(0);
    expect(await cli(['--url', stuck, '--timeout', '0.3', '--interval', '0.1'], {}, log)).toBe(1);
    expect(await cli([], {}, log)).toBe(2);
    expect(await cli(['--url', healthy, '--timeout', 'soon'], {}, log)).toBe(2);
    expect(await cli(['--url', rejecting, '--token-env', 'GATEWAY_TOKEN'], env, log)).toBe(3);
    expect(await cli([], { FUNCTION_APP_URL: healthy }, log)).toBe(0);
    expect(lines.join('\n')).not.toContain('secret-token-value');
  });

  it("hints at the scope docs/deployment.md creates, under the API's application id URI, when a token is rejected", async () => {
    const rejecting = await serve(
      sequence({
        status: 403,
        body: { error: { code: 'insufficient_scope' } },
        headers: { 'www-authenticate': 'Bearer error="insufficient_scope", scope="access_as_user"' },
      }).handler,
    );
    const lines: string[] = [];
    expect(
      await cli(['--url', rejecting], { CALLER_TOKEN: 'x' }, (line) => {
        lines.push(line);
      }),
    ).toBe(3);
    const hint = lines.join('\n');
    expect(hint).toContain('--scope "$AUTH_APP_ID_URI/access_as_user"');
    expect(hint).toContain('app-only token');
    // NOTE: no setting of that name exists any more; naming it would send the reader to the wrong value.
    expect(hint).not.toContain('AUTH_AUDIENCE');
    const guide = await readFile(join(repoRoot, 'docs', 'deployment.md'), 'utf8');
    expect(guide).toContain('--scope "$AUTH_APP_ID_URI/access_as_user"');
  });
});
