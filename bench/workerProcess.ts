import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { captureServersOnLoopback, listeningPort } from '../tools/host/captureServersOnLoopback';
import { installCoreModule } from '../tools/host/installCoreModule';
import { invokeFunction } from '../tools/host/invokeFunction';
import { readHostJson } from '../tools/host/readHostJson';
import { toHttpFunction, type HttpFunction } from '../tools/host/toHttpFunction';
import { toInvocationRequest } from '../tools/host/toInvocationRequest';
import { WorkerCore } from '../tools/host/WorkerCore';

/**
 * What runs in the Functions worker in Azure, alone in a process: the app's bundle on `@azure/functions`
 * with its HTTP proxy (`enableHttpStream`), and nothing of the local host's front server. The benchmark
 * plays the Functions host: it sends each request to the library's proxy with `x-ms-invocation-id` and the
 * `x-forwarded-*` headers, as the host does. An arriving request starts its invocation here, through the
 * same programming-model calls the worker makes for the host's invocation message (tools/host's
 * WorkerCore and invokeFunction), so no second channel is needed.
 *
 * Run as a script (node --import tsx bench/workerProcess.ts <appRoot>) with the app's environment; prints
 * `worker proxy on <port>` once the proxy listens.
 */

const appRoot = path.resolve(process.argv[2] ?? process.cwd());
/** Log entries the app wrote, counted instead of printed: in Azure they leave over the host channel. */
let logEntries = 0;

async function entryPointOf(root: string): Promise<string> {
  const { main } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { main?: string };
  if (!main) throw new Error(`${root}/package.json has no "main".`);
  return path.resolve(root, main);
}

function routeOf(functions: readonly HttpFunction[], prefix: string, pathname: string, method: string) {
  const start = prefix === '' ? '/' : `/${prefix}/`;
  if (!pathname.toLowerCase().startsWith(start)) return undefined;
  const routePath = pathname.slice(start.length);
  for (const fn of functions) {
    if (fn.methods && !fn.methods.includes(method)) continue;
    const params = fn.route.match(routePath);
    if (params) return { fn, params };
  }
  return undefined;
}

async function main(): Promise<void> {
  const core = new WorkerCore({
    log: () => {
      logEntries++;
    },
  });
  installCoreModule(core.api);
  const entryPoint = await entryPointOf(appRoot);
  const { routePrefix } = await readHostJson(appRoot);
  createRequire(entryPoint)(entryPoint);
  await core.finishStartup(appRoot);
  const { servers } = await captureServersOnLoopback(() => core.getCapabilities());
  const proxy = servers[0];
  if (!proxy) throw new Error('The app did not start the HTTP proxy; is enableHttpStream on?');
  const functions = [...core.functions.values()]
    .map(toHttpFunction)
    .filter((fn): fn is HttpFunction => fn !== undefined)
    .sort((a, b) => a.route.precedence - b.route.precedence);

  const invoke = (req: IncomingMessage, res: ServerResponse): void => {
    const invocationId = req.headers['x-ms-invocation-id'];
    const host = req.headers['x-forwarded-host'];
    if (typeof invocationId !== 'string' || typeof host !== 'string') return;
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', `http://${host}`);
    const match = routeOf(functions, routePrefix, url.pathname, method);
    if (!match) {
      res.writeHead(404, { 'content-length': '0' }).end();
      return;
    }
    const request = toInvocationRequest({
      invocationId,
      fn: match.fn,
      method,
      url,
      headers: req.headers,
      params: match.params,
    });
    invokeFunction(core, match.fn.registration, request).catch((error: unknown) => {
      process.stderr.write(`invocation failed: ${error instanceof Error ? error.message : String(error)}\n`);
      if (!res.headersSent) res.writeHead(500, { 'content-length': '0' });
      res.end();
    });
  };
  // NOTE: before the library's own listener, which files the request under its invocation id.
  proxy.prependListener('request', invoke);
  process.stdout.write(`worker proxy on ${listeningPort(proxy) ?? 0}\n`);
  process.on('SIGTERM', () => {
    process.stderr.write(`worker: ${logEntries} log entries\n`);
    process.exit(0);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
