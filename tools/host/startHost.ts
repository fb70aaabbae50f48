import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import path from 'node:path';
import { captureServersOnLoopback, listeningPort } from './captureServersOnLoopback';
import { CorsPolicy } from './CorsPolicy';
import { HostLogger, type HostOutput } from './HostLogger';
import { HostRequestHandler, type HostKeys } from './HostRequestHandler';
import { installCoreModule } from './installCoreModule';
import { readHostJson } from './readHostJson';
import { readLocalSettings, type CorsSettings } from './readLocalSettings';
import { toHttpFunction, type HttpFunction } from './toHttpFunction';
import { WorkerCore, type WorkerLogEntry } from './WorkerCore';

export interface StartHostOptions {
  /** Directory with package.json (whose `main` is the built entry point), host.json and local.settings.json. Default: the working directory. */
  appRoot?: string;
  /** Port on 127.0.0.1; 0 picks a free one. Default: `Host.LocalHttpPort` from local.settings.json, else 7071. */
  port?: number;
  /** Settings put into process.env before the app loads; they win over local.settings.json `Values`. */
  env?: Record<string, string>;
  /** Read local.settings.json: `Values` into process.env where not already set, `Host.CORS`, `Host.LocalHttpPort`. Default: true. */
  loadLocalSettings?: boolean;
  /** CORS origins and credentials; replaces `Host.CORS` / `Host.CORSCredentials`. Default: from local.settings.json, else no CORS. */
  cors?: CorsSettings;
  /** Keys for `function` and `admin` auth levels. Default: random for each start. */
  keys?: Partial<HostKeys>;
  /** Where logs go. Default: process.stdout and process.stderr. */
  output?: HostOutput;
  /** Show debug logs. Default: host.json `logging.logLevel`. */
  verbose?: boolean;
}

export interface RunningHost {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `url` plus the route prefix, e.g. `http://127.0.0.1:7071/api`. */
  apiBaseUrl: string;
  routePrefix: string;
  functions: readonly HttpFunction[];
  keys: HostKeys;
  /** Whether the app turned on `enableHttpStream`. */
  streaming: boolean;
  /** Stops taking requests, lets running ones finish for a few seconds, runs appTerminate hooks. */
  close(): Promise<void>;
}

let running = false;

/**
 * Connections to the library's HTTP proxy, kept open between requests: a new loopback connection per
 * request costs both ends a connect, an accept and a close on the one event loop that also runs the app.
 *
 * NOTE: the proxy is a Node.js server with the default 5 s keep-alive timeout; an idle connection is
 * dropped here after 1 s, long before the proxy could close it under a request being sent on it.
 */
function proxyAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, timeout: PROXY_IDLE_TIMEOUT_MS, scheduling: 'lifo' });
}
const PROXY_IDLE_TIMEOUT_MS = 1_000;

/**
 * Log lines for the process's stdout and stderr, written once per turn of the event loop. On Linux a write
 * to a pipe (spawnHost, npm run dev) is synchronous, so a write per line would stall every request in
 * flight on the reader; lines written in one turn go out in one write, and none are held past it.
 */
function bufferedProcessOutput(): HostOutput {
  const pending = { stdout: '', stderr: '' };
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const { stdout, stderr } = pending;
    pending.stdout = '';
    pending.stderr = '';
    if (stdout !== '') process.stdout.write(stdout);
    if (stderr !== '') process.stderr.write(stderr);
  };
  process.once('exit', flush);
  const append = (stream: 'stdout' | 'stderr', text: string): void => {
    pending[stream] += text;
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return {
    stdout: (text) => {
      append('stdout', text);
    },
    stderr: (text) => {
      append('stderr', text);
    },
  };
}

async function readEntryPoint(appRoot: string): Promise<string> {
  const file = path.join(appRoot, 'package.json');
  const packageJson: unknown = JSON.parse(await readFile(file, 'utf8'));
  const main =
    typeof packageJson === 'object' && packageJson !== null && 'main' in packageJson
      ? packageJson.main
      : undefined;
  if (typeof main !== 'string' || main === '') {
    throw new Error(
      `${file} has no "main"; it must name the built entry point (for example "dist/index.js").`,
    );
  }
  return path.resolve(appRoot, main);
}

function workerLogCategory(entry: WorkerLogEntry): string {
  if (entry.category === 'user' && entry.functionName) {
    return `Function.${entry.functionName}.User`;
  }
  return entry.functionName ? `Function.${entry.functionName}` : 'Host.Worker';
}

function newKey(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Runs the built app in this process the way the Functions host and Node.js worker do: provides
 * `@azure/functions-core`, loads the entry point, runs appStart hooks, asks the programming model for its
 * capabilities (which starts the library's HTTP proxy when streaming is on) and serves the app's HTTP
 * functions on 127.0.0.1. One app per process: the library keeps its state in module scope.
 */
export async function startHost(options: StartHostOptions = {}): Promise<RunningHost> {
  if (running) {
    throw new Error('A host is already running in this process; start another process for a second app.');
  }
  running = true;
  try {
    return await start(options);
  } catch (error) {
    running = false;
    throw error;
  }
}

async function start(options: StartHostOptions): Promise<RunningHost> {
  const appRoot = path.resolve(options.appRoot ?? process.cwd());
  const entryPoint = await readEntryPoint(appRoot);
  const hostJson = await readHostJson(appRoot);
  const localSettings = options.loadLocalSettings === false ? undefined : await readLocalSettings(appRoot);
  const logger = new HostLogger({
    output: options.output ?? bufferedProcessOutput(),
    logLevels: hostJson.logLevels,
    ...(options.verbose ? { verbose: true } : {}),
  });

  for (const [name, value] of Object.entries(options.env ?? {})) {
    process.env[name] = value;
  }
  for (const [name, value] of Object.entries(localSettings?.values ?? {})) {
    if (process.env[name] === undefined) {
      process.env[name] = value;
    } else {
      logger.log(
        'debug',
        'Host.Startup',
        `Skipping '${name}' from local.settings.json as it's already defined in the environment.`,
      );
    }
  }
  const cors = new CorsPolicy(options.cors ?? localSettings?.cors);
  const keys: HostKeys = {
    function: options.keys?.function ?? newKey(),
    master: options.keys?.master ?? newKey(),
  };

  const core = new WorkerCore({
    log: (entry) => {
      logger.log(entry.level, workerLogCategory(entry), entry.message);
    },
  });
  const uninstall = installCoreModule(core.api);
  let proxyServers: http.Server[] = [];
  try {
    logger.log('debug', 'Host.Startup', `Loading entry point "${path.relative(appRoot, entryPoint)}"`);
    // NOTE: the bundle is CommonJS with '@azure/functions-core' left external; require() is what the worker uses.
    createRequire(entryPoint)(entryPoint);
    await core.finishStartup(appRoot);
    const { result: capabilities, servers } = await captureServersOnLoopback(() => core.getCapabilities());
    proxyServers = servers;
    const functions = [...core.functions.values()]
      .map((registration) => {
        const fn = toHttpFunction(registration);
        if (!fn) {
          logger.log(
            'warning',
            'Host.Startup',
            `Function '${registration.metadata.name}' has a trigger the local host does not run; it is skipped.`,
          );
        }
        return fn;
      })
      .filter((fn): fn is HttpFunction => fn !== undefined)
      .sort((a, b) => a.route.precedence - b.route.precedence);

    const httpUri = capabilities.HttpUri;
    const agent = proxyAgent();
    const handler = new HostRequestHandler({
      core,
      functions,
      routePrefix: hostJson.routePrefix,
      cors,
      keys,
      logger,
      httpProxy: httpUri ? { port: Number(new URL(httpUri).port), agent } : undefined,
    });

    const sockets = new Set<Socket>();
    const pending = new Set<Promise<void>>();
    const server = http.createServer((req, res) => {
      const handling = handler.handle(req, res).catch((error: unknown) => {
        logger.log(
          'error',
          'Host.General',
          `Request handling failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        if (!res.headersSent) {
          res.writeHead(500, { 'content-length': '0' }).end();
        } else {
          res.destroy();
        }
      });
      pending.add(handling);
      void handling.finally(() => pending.delete(handling));
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const port = options.port ?? localSettings?.localHttpPort ?? 7071;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const actualPort = listeningPort(server) ?? port;
    const url = `http://127.0.0.1:${actualPort}`;
    const apiBaseUrl = hostJson.routePrefix === '' ? url : `${url}/${hostJson.routePrefix}`;

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        });
        server.closeIdleConnections();
        const drained = Promise.allSettled([...pending]);
        await Promise.race([
          drained,
          new Promise((resolve) => {
            setTimeout(resolve, 3000).unref();
          }),
        ]);
        for (const socket of sockets) {
          socket.destroy();
        }
        await closed;
        agent.destroy();
        for (const proxyServer of proxyServers) {
          proxyServer.closeAllConnections();
          proxyServer.close();
        }
        try {
          await core.terminate();
        } finally {
          uninstall();
          running = false;
        }
      })();
      return closing;
    };

    return {
      url,
      apiBaseUrl,
      routePrefix: hostJson.routePrefix,
      functions,
      keys,
      streaming: httpUri !== undefined,
      close,
    };
  } catch (error) {
    for (const proxyServer of proxyServers) {
      proxyServer.close();
    }
    uninstall();
    throw error;
  }
}
