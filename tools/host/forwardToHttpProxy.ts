import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';

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

export interface ProxyExchangeOptions {
  agent: http.Agent;
  /** Port of the library's HTTP proxy on 127.0.0.1. */
  port: number;
  invocationId: string;
  clientRequest: IncomingMessage;
  /** Host and port the client addressed; the library rebuilds `request.url` from it. */
  forwardedHost: string;
}

/** One request forwarded to the library's HTTP proxy. */
export interface ProxyExchange {
  /** The library's response, once its head arrives; rejects if the exchange fails or is aborted first. */
  readonly response: Promise<IncomingMessage>;
  /** Tears the exchange down (client gone, invocation failed). */
  abort(): void;
}

/**
 * Forwards a client request to the proxy server that `@azure/functions` runs when `enableHttpStream` is
 * on, as the host does: same method, path and headers, the body streamed as it arrives, plus
 * `x-ms-invocation-id` (pairs the request with the invocation) and `x-forwarded-host`/`-proto`.
 */
export function forwardToHttpProxy(options: ProxyExchangeOptions): ProxyExchange {
  const { clientRequest } = options;
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(clientRequest.headers)) {
    if (value !== undefined && !hopByHopHeaders.has(name)) {
      headers[name] = value;
    }
  }
  headers['x-ms-invocation-id'] = options.invocationId;
  headers['x-forwarded-host'] = options.forwardedHost;
  headers['x-forwarded-proto'] = 'http';

  const proxyRequest = http.request({
    agent: options.agent,
    host: '127.0.0.1',
    port: options.port,
    method: clientRequest.method ?? 'GET',
    path: clientRequest.url ?? '/',
    headers,
  });
  // NOTE: errors surface through `response`; this listener keeps a late second error from crashing the host.
  proxyRequest.on('error', () => undefined);
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    proxyRequest.once('response', resolve);
    proxyRequest.once('error', reject);
    proxyRequest.once('close', () => {
      reject(new Error('The HTTP proxy exchange closed before a response arrived.'));
    });
  });
  response.catch(() => undefined);

  // NOTE: the library only pairs the invocation with its request once the request head arrives, so send it now.
  proxyRequest.flushHeaders();
  clientRequest.pipe(proxyRequest);
  clientRequest.once('close', () => {
    if (!clientRequest.complete) {
      proxyRequest.destroy();
    }
  });

  return {
    response,
    abort: () => {
      clientRequest.unpipe(proxyRequest);
      proxyRequest.destroy();
    },
  };
}
