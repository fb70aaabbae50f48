import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type Server } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forwardToHttpProxy } from '../../tools/host/forwardToHttpProxy';

interface Seen {
  connection: number;
  invocationId: string;
  body: string;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function readText(message: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of message) text += (chunk as Buffer).toString();
  return text;
}

/**
 * Sends `requests` one after another on one connection, each body whole and at once, and collects what comes
 * back until `until` shows up or `timeoutMs` passes. A raw socket, because Node's HTTP client stops sending a
 * body once the whole response has arrived and then never finishes that request.
 */
function exchangeOnOneConnection(
  port: number,
  requests: readonly { path: string; body: Buffer }[],
  until: string,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const socket = net.connect(port, '127.0.0.1');
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes(until)) done();
    });
    socket.on('error', done);
    for (const { path, body } of requests) {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body);
    }
  });
}

/**
 * A stand-in for the library's HTTP proxy: answers each request with the body it received, and, when told
 * to, resets a kept-alive connection as the next request arrives on it (what a request sent just as the
 * proxy's keep-alive timeout closes the connection runs into).
 */
function proxyStandIn() {
  const seen: Seen[] = [];
  const connections = new Map<Socket, number>();
  const state = { resetNextReuse: false };
  const resetInvocations: string[] = [];
  const early = { bytes: 0 };
  const server = http.createServer((req, res) => {
    if (req.url === '/early') {
      // NOTE: like the library's proxy when a function answers before reading its body: the answer goes out
      // at once and nothing more of the body is read.
      req.on('data', (chunk: Buffer) => {
        early.bytes += chunk.length;
        req.pause();
      });
      res.writeHead(413, { 'content-type': 'text/plain' }).end('too large');
      return;
    }
    const connection = connections.get(req.socket) ?? 0;
    const served = seen.filter((entry) => entry.connection === connection).length;
    if (state.resetNextReuse && served > 0) {
      state.resetNextReuse = false;
      resetInvocations.push(String(req.headers['x-ms-invocation-id']));
      req.socket.resetAndDestroy();
      return;
    }
    void readText(req).then((body) => {
      seen.push({ connection, invocationId: String(req.headers['x-ms-invocation-id']), body });
      res.end(`echo:${body}`);
    });
  });
  server.on('connection', (socket) => {
    connections.set(socket, connections.size + 1);
  });
  return { server, seen, state, resetInvocations, early, connectionCount: () => connections.size };
}

describe('forwarding to the library proxy', () => {
  let proxy: ReturnType<typeof proxyStandIn>;
  let front: Server;
  let frontUrl: string;
  let frontPort: number;
  let agent: http.Agent;

  beforeEach(async () => {
    proxy = proxyStandIn();
    const proxyPort = await listen(proxy.server);
    agent = new http.Agent({ keepAlive: true, timeout: 1_000 });
    front = http.createServer((req, res) => {
      const exchange = forwardToHttpProxy({
        agent,
        port: proxyPort,
        invocationId: randomUUID(),
        clientRequest: req,
        forwardedHost: req.headers.host ?? '',
      });
      exchange.response.then(
        (proxyResponse) => {
          res.writeHead(proxyResponse.statusCode ?? 500);
          proxyResponse.pipe(res);
        },
        (error: unknown) => {
          res.writeHead(502).end(error instanceof Error ? error.message : String(error));
        },
      );
    });
    frontPort = await listen(front);
    frontUrl = `http://127.0.0.1:${frontPort}`;
  });

  afterEach(async () => {
    agent.destroy();
    front.closeAllConnections();
    proxy.server.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
    await new Promise((resolve) => proxy.server.close(resolve));
  });

  const post = async (body: string) => {
    const response = await fetch(frontUrl, { method: 'POST', body });
    return { status: response.status, text: await response.text() };
  };

  it('sends one request after another over one kept-alive connection', async () => {
    for (const body of ['one', 'two', 'three']) {
      expect(await post(body)).toEqual({ status: 200, text: `echo:${body}` });
    }

    expect(proxy.connectionCount()).toBe(1);
    expect(proxy.seen.map((entry) => entry.body)).toEqual(['one', 'two', 'three']);
  });

  it('sends a request again, body and all, on a new connection when the reused one is reset', async () => {
    expect(await post('first')).toEqual({ status: 200, text: 'echo:first' });
    proxy.state.resetNextReuse = true;

    expect(await post('second')).toEqual({ status: 200, text: 'echo:second' });
    expect(proxy.connectionCount()).toBe(2);
    expect(proxy.seen.map((entry) => [entry.connection, entry.body])).toEqual([
      [1, 'first'],
      [2, 'second'],
    ]);
  });

  it('sends the request again under the same invocation id', async () => {
    await post('first');
    proxy.state.resetNextReuse = true;
    await post('second');

    expect(proxy.resetInvocations).toHaveLength(1);
    expect(proxy.seen[1]?.invocationId).toBe(proxy.resetInvocations[0]);
  });

  it('stops sending the body once the proxy has answered, so the client connection serves its next request', async () => {
    const received = await exchangeOnOneConnection(
      frontPort,
      [
        { path: '/early', body: Buffer.alloc(10_000_000, 'a') },
        { path: '/', body: Buffer.from('next') },
      ],
      'echo:next',
      3000,
    );

    expect(received).toMatch(/^HTTP\/1\.1 413 [^]*too large[^]*HTTP\/1\.1 200 [^]*echo:next/);
    expect(proxy.early.bytes).toBeLessThan(10_000_000);
    // NOTE: the connection left mid-body is closed, not kept busy or handed to the next request.
    await expect.poll(() => Object.values(agent.sockets).flat().length, { timeout: 1000 }).toBe(0);
    expect(proxy.seen.map((entry) => [entry.connection, entry.body])).toEqual([[2, 'next']]);
  });
});
