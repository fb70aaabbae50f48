import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
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
 * A stand-in for the library's HTTP proxy: answers each request with the body it received, and, when told
 * to, resets a kept-alive connection as the next request arrives on it (what a request sent just as the
 * proxy's keep-alive timeout closes the connection runs into).
 */
function proxyStandIn() {
  const seen: Seen[] = [];
  const connections = new Map<Socket, number>();
  const state = { resetNextReuse: false };
  const resetInvocations: string[] = [];
  const server = http.createServer((req, res) => {
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
  return { server, seen, state, resetInvocations, connectionCount: () => connections.size };
}

describe('forwarding to the library proxy', () => {
  let proxy: ReturnType<typeof proxyStandIn>;
  let front: Server;
  let frontUrl: string;
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
    frontUrl = `http://127.0.0.1:${await listen(front)}`;
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
});
