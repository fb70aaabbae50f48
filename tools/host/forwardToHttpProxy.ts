import http, {
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { finished } from 'node:stream';

// NOTE: `expect` is answered by this host already; the body follows without waiting for the proxy's 100.
const hopByHopHeaders = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
]);

/** Body bytes kept until the proxy answers, so a request on a connection the proxy had closed can be sent again. */
const REPLAYABLE_BODY_BYTES = 64 * 1024;

export interface ProxyExchangeOptions {
  agent: http.Agent;
  /** Port of the library's HTTP proxy on 127.0.0.1. */
  port: number;
  invocationId: string;
  clientRequest: IncomingMessage;
  /** The headers to pass on, as the host hands them to the worker. Default: the client's. */
  headers?: IncomingHttpHeaders;
  /** Host and port the client addressed; the library rebuilds `request.url` from it. */
  forwardedHost: string;
}

/** One request forwarded to the library's HTTP proxy. */
export interface ProxyExchange {
  /** The library's response, once its head arrives; rejects if the exchange fails or is aborted first. */
  readonly response: Promise<IncomingMessage>;
  /**
   * Stops sending the request body: the function has answered, so the rest of the client's body is read and
   * dropped. Happens by itself when the response head arrives.
   */
  stopBody(): void;
  /** Tears the exchange down (client gone, invocation failed). */
  abort(): void;
}

function isConnectionReset(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/**
 * Forwards a client request to the proxy server that `@azure/functions` runs when `enableHttpStream` is
 * on, as the host does: same method, path and headers, the body streamed as it arrives, plus
 * `x-ms-invocation-id` (pairs the request with the invocation) and `x-forwarded-host`/`-proto`.
 *
 * Connections come from a keep-alive agent. A request sent on a reused connection that the proxy closed
 * meanwhile fails with a reset before any answer; the proxy never saw it, so it is sent once more on a new
 * connection, with the body bytes forwarded so far, as long as those fit in REPLAYABLE_BODY_BYTES.
 *
 * An answer ends the body's way to the proxy. The library sends its response head only once the function
 * has returned, and after an early answer (413 for a body over the app's limit) nothing reads the rest for
 * sure: the proxy server may stop taking bytes, leaving this host waiting to write and the client's next
 * request stuck behind the unread body, and it closes the connection after its keep-alive timeout with the
 * rest unread, a reset under a host that is still writing. So once the head arrives (or the host learns that
 * the invocation finished), the rest of the client's body is read and dropped, as Node.js servers do with a
 * body nobody read, which keeps the client's connection usable; a proxy connection left mid-body can carry
 * nothing else and is closed once its response has been read.
 */
export function forwardToHttpProxy(options: ProxyExchangeOptions): ProxyExchange {
  const { clientRequest } = options;
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(options.headers ?? clientRequest.headers)) {
    if (value !== undefined && !hopByHopHeaders.has(name)) {
      headers[name] = value;
    }
  }
  headers['x-ms-invocation-id'] = options.invocationId;
  headers['x-forwarded-host'] = options.forwardedHost;
  headers['x-forwarded-proto'] = 'http';

  let settle: { resolve(response: IncomingMessage): void; reject(error: unknown): void } | undefined;
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    settle = { resolve, reject };
  });
  response.catch(() => undefined);
  let answered = false;
  let aborted = false;
  let bodyStopped = false;
  let sent: Buffer[] | undefined = [];
  let sentBytes = 0;
  let current: ClientRequest;

  const send = (agent: http.Agent | false): ClientRequest => {
    const proxyRequest = http.request({
      agent,
      host: '127.0.0.1',
      port: options.port,
      method: clientRequest.method ?? 'GET',
      path: clientRequest.url ?? '/',
      headers,
    });
    // NOTE: errors surface through `response`; this listener keeps a late second error from crashing the host.
    proxyRequest.on('error', (error) => {
      if (proxyRequest !== current || answered || aborted) return;
      if (agent !== false && proxyRequest.reusedSocket && isConnectionReset(error) && sent !== undefined) {
        current = send(false);
        for (const chunk of sent) current.write(chunk);
        if (clientRequest.readableEnded) current.end();
        else clientRequest.resume();
        return;
      }
      answered = true;
      settle?.reject(error);
    });
    proxyRequest.once('response', (proxyResponse) => {
      if (proxyRequest !== current) return;
      answered = true;
      sent = undefined;
      stopBody();
      if (bodyStopped) {
        finished(proxyResponse, () => {
          proxyRequest.destroy();
        });
      }
      settle?.resolve(proxyResponse);
    });
    proxyRequest.once('close', () => {
      if (proxyRequest !== current || answered) return;
      answered = true;
      settle?.reject(new Error('The HTTP proxy exchange closed before a response arrived.'));
    });
    // NOTE: the library pairs the invocation with its request only once the request head arrives. A body
    // that already came with the client's head leaves in the same write as the head; otherwise the head
    // goes alone, at the end of this turn of the event loop.
    setImmediate(() => {
      if (!proxyRequest.headersSent && !proxyRequest.destroyed) proxyRequest.flushHeaders();
    });
    return proxyRequest;
  };
  current = send(options.agent);

  function stopBody(): void {
    if (bodyStopped || aborted || clientRequest.readableEnded) return;
    bodyStopped = true;
    sent = undefined;
    clientRequest.resume();
  }

  clientRequest.on('data', (chunk: Buffer) => {
    if (aborted || bodyStopped) return;
    if (sent !== undefined) {
      sentBytes += chunk.length;
      if (sentBytes <= REPLAYABLE_BODY_BYTES) sent.push(chunk);
      else sent = undefined;
    }
    const target = current;
    if (!target.write(chunk)) {
      clientRequest.pause();
      target.once('drain', () => {
        if (target === current && !bodyStopped) clientRequest.resume();
      });
    }
  });
  clientRequest.once('end', () => {
    if (!bodyStopped) current.end();
  });
  clientRequest.once('close', () => {
    if (!clientRequest.complete) {
      current.destroy();
    }
  });

  return {
    response,
    stopBody,
    abort: () => {
      aborted = true;
      sent = undefined;
      clientRequest.pause();
      current.destroy();
    },
  };
}
