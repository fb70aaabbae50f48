import http from 'node:http';
import net from 'node:net';
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

/**
 * Sends `size` bytes whole and at once, then `GET /api/health`, on one connection, and returns the status of
 * each answer in order (what came within `timeoutMs`). A raw socket, because Node's HTTP client stops
 * sending a body once the whole response has arrived and then never finishes that request.
 */
function oversizedThenHealth(
  size: number,
  framing: 'fixed' | 'chunked',
  timeoutMs: number,
): Promise<string[]> {
  const url = new URL(stack.apiBaseUrl);
  const statuses = (text: string) =>
    [...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((match) => match[1] ?? '');
  return new Promise((resolve) => {
    let received = '';
    const socket = net.connect(Number(url.port), '127.0.0.1');
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(statuses(received));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (statuses(received).length === 2) done();
    });
    socket.on('error', done);
    const body = Buffer.alloc(size, 'a');
    socket.write(
      `POST ${url.pathname}/chat/completions HTTP/1.1\r\nHost: ${url.host}\r\n` +
        `Authorization: Bearer ${stack.callerToken}\r\nContent-Type: application/json\r\n` +
        (framing === 'fixed' ? `Content-Length: ${size}\r\n\r\n` : 'Transfer-Encoding: chunked\r\n\r\n'),
    );
    if (framing === 'fixed') {
      socket.write(body);
    } else {
      socket.write(`${size.toString(16)}\r\n`);
      socket.write(body);
      socket.write('\r\n0\r\n\r\n');
    }
    socket.write(`GET ${url.pathname}/health HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
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

  const cases = (['fixed', 'chunked'] as const).flatMap((framing) =>
    sizes.map(([label, size]) => [framing === 'fixed' ? 'content-length' : 'chunked', label, size] as const),
  );
  it.each(cases)("gets the app's 413 in the error shape (%s, %s)", async (framing, _label, size) => {
    const answer = await postLargeBody(size, framing === 'content-length' ? 'fixed' : 'chunked');
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { code: 'request_too_large', type: 'invalid_request_error' },
    });
    expect(answer.headers['x-request-id']).toBeTruthy();
  });

  it.each(['fixed', 'chunked'] as const)(
    'leaves the connection serving the next request after the 413 (10 MB, %s)',
    async (framing) => {
      expect(await oversizedThenHealth(10_000_000, framing, 3000)).toEqual(['413', '200']);
    },
  );

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
