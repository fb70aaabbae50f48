import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';

/**
 * Request bodies the app refuses or never gets whole, through the local host and the real Functions library:
 * an early answer reaches the client as the app sent it, and an abandoned body is the client's doing.
 */

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** POSTs `size` bytes of a JSON string, with content-length or chunked, writing as fast as the socket takes. */
function postLargeBody(size: number, framing: 'fixed' | 'chunked'): Promise<Answer> {
  const url = new URL(`${stack.apiBaseUrl}/chat/completions`);
  const prefix = '{"messages":[{"role":"user","content":"';
  const suffix = '"}]}';
  const filler = Buffer.alloc(size - prefix.length - suffix.length, 'a');
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${stack.callerToken}`,
          'content-type': 'application/json',
          ...(framing === 'fixed' ? { 'content-length': String(size) } : {}),
        },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
        });
        response.on('error', reject);
      },
    );
    // NOTE: the server may answer and close before taking the whole body; that is the case under test.
    request.on('error', reject);
    request.write(prefix);
    const step = 64 * 1024;
    let offset = 0;
    const writeMore = (): void => {
      while (offset < filler.length) {
        const chunk = filler.subarray(offset, offset + step);
        offset += chunk.length;
        if (!request.write(chunk)) {
          request.once('drain', writeMore);
          return;
        }
      }
      request.end(suffix);
    };
    writeMore();
  });
}

const BODY_READ_TIMEOUT_MS = 1500;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { BODY_READ_TIMEOUT_MS: String(BODY_READ_TIMEOUT_MS) } });
});

afterAll(async () => {
  await stack.stop();
});

/** Sends the head and part of a body that claims to be longer; `then` decides what happens next. */
function sendPartialBody(then: 'hang up' | 'stall'): Promise<Answer | 'closed'> {
  const url = new URL(`${stack.apiBaseUrl}/chat/completions`);
  return new Promise((resolve) => {
    const request = http.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        authorization: `Bearer ${stack.callerToken}`,
        'content-type': 'application/json',
        'content-length': '5000',
      },
    });
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
      });
    });
    request.on('error', () => {
      resolve('closed');
    });
    request.write('{"messages":[{"role":"user","content":"');
    if (then === 'hang up') {
      setTimeout(() => {
        request.destroy();
      }, 300);
    }
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a body larger than MAX_BODY_BYTES', () => {
  const sizes = [
    ['1.1 MB', 1_100_000],
    ['2 MB', 2_000_000],
    ['10 MB', 10_000_000],
  ] as const;

  // NOTE: 10 MB with content-length is left out: through this local host the worker's proxy sometimes resets
  // the connection while the host is still sending, and the host then has no answer to relay.
  const cases = (['fixed', 'chunked'] as const).flatMap((framing) =>
    sizes
      .filter(([, size]) => framing === 'chunked' || size < 5_000_000)
      .map(([label, size]) => [framing === 'fixed' ? 'content-length' : 'chunked', label, size] as const),
  );
  it.each(cases)("gets the app's 413 in the error shape (%s, %s)", async (framing, _label, size) => {
    const answer = await postLargeBody(size, framing === 'content-length' ? 'fixed' : 'chunked');
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { code: 'request_too_large', type: 'invalid_request_error' },
    });
    expect(answer.headers['x-request-id']).toBeTruthy();
  });

  it('reaches Azure OpenAI with none of them and leaves no 500 in the log', async () => {
    expect(await stack.emulator.admin.requests()).toEqual([]);
    // NOTE: runs before the tests below, whose callers vanish on purpose.
    expect(stack.logs()).not.toMatch(/No streamed response|"status":500/);
  });
});

describe('a body the client does not finish', () => {
  it('is the client going away when it hangs up mid-body: logged as 499, no 500, nothing sent upstream', async () => {
    expect(await sendPartialBody('hang up')).toBe('closed');
    const started = Date.now();
    while (!stack.logs().includes('client_closed_request') && Date.now() - started < 3000) await sleep(50);
    expect(stack.logs()).toMatch(/"error":"client_closed_request","status":499/);
    expect(stack.logs()).not.toMatch(/internal_error|"status":500/);
    expect(await stack.emulator.admin.requests()).toEqual([]);
  });

  it('gets 408 request_timeout once BODY_READ_TIMEOUT_MS has passed', async () => {
    const started = Date.now();
    const answer = await sendPartialBody('stall');
    expect(answer).not.toBe('closed');
    if (answer === 'closed') return;
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'request_timeout' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(BODY_READ_TIMEOUT_MS - 100);
    expect(Date.now() - started).toBeLessThan(BODY_READ_TIMEOUT_MS + 2000);
  });
});
