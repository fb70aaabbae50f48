import { randomUUID, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { CorsPolicy } from './CorsPolicy';
import { forwardToHttpProxy } from './forwardToHttpProxy';
import type { RpcHttpData, RpcInvocationResponse } from './functionsCoreTypes';
import type { HostLogger } from './HostLogger';
import { invokeFunction, type InvocationResult } from './invokeFunction';
import type { HttpFunction } from './toHttpFunction';
import { toInvocationRequest } from './toInvocationRequest';
import { withClientIp } from './withClientIp';
import type { WorkerCore } from './WorkerCore';
import { writeRpcHttpResponse } from './writeRpcHttpResponse';

export interface HostKeys {
  /** Accepted for `authLevel: 'function'`. */
  function: string;
  /** Accepted for every auth level. */
  master: string;
}

export interface HostRequestHandlerOptions {
  core: WorkerCore;
  /** HTTP functions in matching order: by name, as the Functions host orders them. */
  functions: readonly HttpFunction[];
  routePrefix: string;
  cors: CorsPolicy;
  keys: HostKeys;
  logger: HostLogger;
  /** The library's HTTP proxy when the app enabled streaming; requests are then forwarded to it. */
  httpProxy: { port: number; agent: http.Agent } | undefined;
  /** Largest buffered request body in bytes. Default: 100 MB, the host's limit. */
  maxBodyBytes?: number;
  /** How long a finished invocation may take to deliver its streamed response head. Default: 10 s. */
  responseHeadTimeoutMs?: number;
}

const proxyResponseSkippedHeaders = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'x-ms-invocation-id',
  'trailer',
  'upgrade',
]);

class BodyTooLargeError extends Error {}

function safeEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    return `Exception: ${error.message}\nStack: ${error.stack ?? error.message}`;
  }
  return `Exception: ${String(error)}`;
}

function findHttpOutput(response: RpcInvocationResponse): RpcHttpData | undefined {
  return (
    response.returnValue?.http ??
    response.outputData?.find((binding) => binding.data?.http)?.data?.http ??
    undefined
  );
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      throw new BodyTooLargeError(`The request body is larger than ${limit} bytes.`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function delay(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms, 'timeout').unref();
  });
}

/** What one invocation needs to know about the request it serves. */
interface InvocationCall {
  url: URL;
  method: string;
  /** The client's headers as the platform passes them on (`client-ip` set). */
  headers: http.IncomingHttpHeaders;
  params: Record<string, string>;
  invocationId: string;
  corsHeaders: Record<string, string>;
}

/**
 * Serves one request the way the Functions host does: CORS preflight, route prefix, route and method
 * matching, auth level keys, then the invocation, over the library's streaming proxy or buffered.
 */
export class HostRequestHandler {
  #options: HostRequestHandlerOptions;
  #prefixPath: string;

  constructor(options: HostRequestHandlerOptions) {
    this.#options = options;
    this.#prefixPath = options.routePrefix === '' ? '' : `/${options.routePrefix.toLowerCase()}`;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { cors } = this.#options;
    if (cors.isPreflight(req)) {
      this.#sendEmpty(res, 204, cors.preflightHeaders(req));
      return;
    }
    const corsHeaders = cors.responseHeaders(req);
    const host = req.headers.host ?? `${req.socket.localAddress ?? '127.0.0.1'}:${req.socket.localPort ?? 0}`;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://${host}`);
    } catch {
      this.#sendEmpty(res, 400, corsHeaders);
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const routePath = this.#routePath(url.pathname);
    const match = routePath === undefined ? undefined : this.#findFunction(routePath, method);
    if (!match) {
      this.#sendEmpty(res, 404, corsHeaders);
      req.resume();
      return;
    }
    const { fn, params } = match;
    if (!this.#authorized(fn, req, url)) {
      this.#sendEmpty(res, 401, corsHeaders);
      req.resume();
      return;
    }
    const invocationId = randomUUID();
    const headers = withClientIp(req);
    if (this.#options.httpProxy) {
      await this.#invokeStreaming(fn, req, res, {
        url,
        method,
        headers,
        params,
        invocationId,
        corsHeaders,
        host,
        httpProxy: this.#options.httpProxy,
      });
    } else {
      await this.#invokeBuffered(fn, req, res, { url, method, headers, params, invocationId, corsHeaders });
    }
  }

  #routePath(pathname: string): string | undefined {
    if (this.#prefixPath === '') {
      return pathname;
    }
    const lower = pathname.toLowerCase();
    if (lower === this.#prefixPath || lower === `${this.#prefixPath}/`) {
      return '';
    }
    return lower.startsWith(`${this.#prefixPath}/`) ? pathname.slice(this.#prefixPath.length + 1) : undefined;
  }

  #findFunction(
    routePath: string,
    method: string,
  ): { fn: HttpFunction; params: Record<string, string> } | undefined {
    for (const fn of this.#options.functions) {
      if (fn.methods && !fn.methods.includes(method)) {
        continue;
      }
      const params = fn.route.match(routePath);
      if (params) {
        return { fn, params };
      }
    }
    return undefined;
  }

  #authorized(fn: HttpFunction, req: IncomingMessage, url: URL): boolean {
    if (fn.authLevel === 'anonymous') {
      return true;
    }
    const header = req.headers['x-functions-key'];
    const provided = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code');
    if (!provided) {
      return false;
    }
    const { keys } = this.#options;
    const accepted = fn.authLevel === 'function' ? [keys.function, keys.master] : [keys.master];
    return accepted.some((key) => safeEqual(key, provided));
  }

  async #invokeBuffered(
    fn: HttpFunction,
    req: IncomingMessage,
    res: ServerResponse,
    call: InvocationCall,
  ): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, this.#options.maxBodyBytes ?? 100 * 1024 * 1024);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        this.#sendEmpty(res, 413, call.corsHeaders);
        req.destroy();
      }
      return;
    }
    const request = toInvocationRequest({
      invocationId: call.invocationId,
      fn,
      method: call.method,
      url: call.url,
      headers: call.headers,
      params: call.params,
      body,
    });
    const started = this.#logExecuting(fn, call.invocationId);
    let result: InvocationResult;
    try {
      result = await invokeFunction(this.#options.core, fn.registration, request);
    } catch (error) {
      this.#logExecuted(fn, call.invocationId, started, error);
      this.#sendEmpty(res, 500, call.corsHeaders);
      return;
    }
    this.#logExecuted(fn, call.invocationId, started);
    if (res.destroyed || res.headersSent) {
      return;
    }
    const http = findHttpOutput(result.response);
    if (http) {
      writeRpcHttpResponse(res, http, call.corsHeaders, call.method);
    } else {
      // NOTE: a function that returns no HTTP response gets the host's default: 200 with an empty body.
      this.#sendEmpty(res, 200, call.corsHeaders);
    }
  }

  async #invokeStreaming(
    fn: HttpFunction,
    req: IncomingMessage,
    res: ServerResponse,
    call: InvocationCall & { host: string; httpProxy: { port: number; agent: http.Agent } },
  ): Promise<void> {
    const exchange = forwardToHttpProxy({
      agent: call.httpProxy.agent,
      port: call.httpProxy.port,
      invocationId: call.invocationId,
      clientRequest: req,
      headers: call.headers,
      forwardedHost: call.host,
    });
    res.once('close', () => {
      if (!res.writableFinished) {
        // NOTE: the client went away; dropping the proxy connection turns the library's remaining
        // writes into no-ops while the function runs to completion, as it does under the real host.
        exchange.abort();
      }
    });

    const request = toInvocationRequest({
      invocationId: call.invocationId,
      fn,
      method: call.method,
      url: call.url,
      headers: call.headers,
      params: call.params,
    });
    const started = this.#logExecuting(fn, call.invocationId);
    const invocation = invokeFunction(this.#options.core, fn.registration, request).then(
      (result) => ({ ok: true as const, result }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const head = exchange.response.then(
      (response) => ({ kind: 'head' as const, response }),
      (error: unknown) => ({ kind: 'headFailed' as const, error }),
    );

    const first = await Promise.race([
      invocation.then((outcome) => ({ kind: 'invocation' as const, outcome })),
      head,
    ]);
    if (first.kind === 'head') {
      const relayed = this.#relay(first.response, res, call.corsHeaders);
      const outcome = await invocation;
      if (outcome.ok) {
        this.#logExecuted(fn, call.invocationId, started);
      } else {
        this.#logExecuted(fn, call.invocationId, started, outcome.error);
        // NOTE: the response already started; cutting it is the only way left to tell the client.
        exchange.abort();
        res.destroy();
      }
      await relayed;
      return;
    }

    if (first.kind === 'headFailed') {
      if (!res.destroyed) {
        this.#options.logger.log(
          'error',
          'Host.Function',
          `The HTTP proxy of the worker failed for invocation ${call.invocationId}: ${String(first.error)}`,
        );
        this.#sendEmpty(res, 500, call.corsHeaders);
      }
      const outcome = await invocation;
      this.#logExecuted(fn, call.invocationId, started, outcome.ok ? undefined : outcome.error);
      return;
    }

    const { outcome } = first;
    if (!outcome.ok) {
      this.#logExecuted(fn, call.invocationId, started, outcome.error);
      exchange.abort();
      this.#sendEmpty(res, 500, call.corsHeaders);
      return;
    }
    this.#logExecuted(fn, call.invocationId, started);
    if (!outcome.result.producedHttpOutput) {
      exchange.abort();
      this.#sendEmpty(res, 200, call.corsHeaders);
      return;
    }
    // NOTE: the library wrote the whole response before the invocation finished; its head is on the way.
    // Body bytes still being sent could only run into the proxy closing the connection before the head is read.
    exchange.stopBody();
    const late = await Promise.race([head, delay(this.#options.responseHeadTimeoutMs ?? 10_000)]);
    if (late !== 'timeout' && late.kind === 'head') {
      await this.#relay(late.response, res, call.corsHeaders);
      return;
    }
    this.#options.logger.log(
      'error',
      'Host.Function',
      `No streamed response arrived for invocation ${call.invocationId}.`,
    );
    exchange.abort();
    this.#sendEmpty(res, 500, call.corsHeaders);
  }

  /** Copies the library's response to the client as it arrives: head at once, then every chunk unbuffered. */
  async #relay(
    proxyResponse: IncomingMessage,
    res: ServerResponse,
    corsHeaders: Record<string, string>,
  ): Promise<void> {
    if (res.destroyed || res.headersSent) {
      proxyResponse.destroy();
      return;
    }
    for (const [name, value] of Object.entries(proxyResponse.headers)) {
      if (value !== undefined && !proxyResponseSkippedHeaders.has(name)) {
        res.setHeader(name, value);
      }
    }
    for (const [name, value] of Object.entries(corsHeaders)) {
      res.setHeader(name, value);
    }
    res.writeHead(proxyResponse.statusCode ?? 200);
    // NOTE: a body chunk that arrived with the head leaves in the same write as the head; a stream that has
    // nothing yet sends its head alone at the end of this turn of the event loop.
    setImmediate(() => {
      if (!res.headersSent && !res.destroyed) res.flushHeaders();
    });
    try {
      await pipeline(proxyResponse, res);
    } catch {
      // NOTE: either side closed early (client disconnect, failed invocation); both are already torn down.
      res.destroy();
    }
  }

  #sendEmpty(res: ServerResponse, status: number, headers: Record<string, string>): void {
    if (res.headersSent || res.destroyed) {
      return;
    }
    res.writeHead(status, { ...headers, 'content-length': '0' });
    res.end();
  }

  #logExecuting(fn: HttpFunction, invocationId: string): number {
    this.#options.logger.log(
      'information',
      `Function.${fn.name}`,
      `Executing 'Functions.${fn.name}' (Reason='This function was programmatically called via the host APIs.', Id=${invocationId})`,
    );
    return performance.now();
  }

  #logExecuted(fn: HttpFunction, invocationId: string, started: number, error?: unknown): void {
    const duration = Math.round(performance.now() - started);
    if (error === undefined) {
      this.#options.logger.log(
        'information',
        `Function.${fn.name}`,
        `Executed 'Functions.${fn.name}' (Succeeded, Id=${invocationId}, Duration=${duration}ms)`,
      );
      return;
    }
    this.#options.logger.log(
      'error',
      `Function.${fn.name}`,
      `Executed 'Functions.${fn.name}' (Failed, Id=${invocationId}, Duration=${duration}ms)\n` +
        `Exception while executing function: Functions.${fn.name}. Result: Failure\n${describeError(error)}`,
    );
  }
}
