import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { CorsPolicy } from '../../tools/host/CorsPolicy';

function request(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers } as unknown as IncomingMessage;
}

describe('CorsPolicy', () => {
  it('refuses any origin together with credentials', () => {
    expect(() => new CorsPolicy({ origins: ['*'], credentials: true })).toThrow(/credentials/);
  });

  it('grants any origin with a literal star when credentials are off', () => {
    const policy = new CorsPolicy({ origins: ['*'] });

    expect(policy.responseHeaders(request('GET', { origin: 'http://anything.example' }))).toEqual({
      'access-control-allow-origin': '*',
    });
  });

  it('matches configured origins ignoring case and a trailing slash, echoing the request origin', () => {
    const policy = new CorsPolicy({ origins: ['HTTP://LOCALHOST:5173/'], credentials: true });

    expect(policy.responseHeaders(request('GET', { origin: 'http://localhost:5173' }))).toEqual({
      vary: 'Origin',
      'access-control-allow-origin': 'http://localhost:5173',
      'access-control-allow-credentials': 'true',
    });
  });

  it('does nothing without configured origins, so OPTIONS reaches the functions', () => {
    const policy = new CorsPolicy(undefined);
    const options = request('OPTIONS', {
      origin: 'http://localhost:5173',
      'access-control-request-method': 'POST',
    });

    expect(policy.isPreflight(options)).toBe(false);
    expect(policy.responseHeaders(options)).toEqual({});
  });

  it('only counts OPTIONS with an origin and a requested method as a preflight', () => {
    const policy = new CorsPolicy({ origins: ['http://localhost:5173'] });

    expect(
      policy.isPreflight(
        request('OPTIONS', { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' }),
      ),
    ).toBe(true);
    expect(policy.isPreflight(request('OPTIONS', { origin: 'http://localhost:5173' }))).toBe(false);
    expect(
      policy.isPreflight(
        request('POST', { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' }),
      ),
    ).toBe(false);
  });
});
