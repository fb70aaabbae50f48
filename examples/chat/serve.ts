import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { buildChatPage, DEFAULT_OUTDIR, PAGE_DIR } from './build';

/**
 * Serves the built chat page on its own origin (http://127.0.0.1:5173 by default), so the browser calls
 * the API cross-origin exactly as it would in production. In development it also answers `/dev.json`
 * with the caller token `npm run dev` wrote, read fresh on every request and never written to the page
 * folder.
 */

export interface DevSession {
  apiBaseUrl: string;
  callerToken: string;
}

export interface ServeOptions {
  /** The built page (see build.ts). */
  root?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Served as /config.json when the page folder has none. */
  config?: unknown;
  /** Served as /dev.json; without it, /dev.json is 404. */
  devSession?: () => Promise<DevSession | undefined>;
}

export interface PageServer {
  /** The page's origin, e.g. http://127.0.0.1:5173 */
  origin: string;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 5173;

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

const baseHeaders = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...baseHeaders, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const isFile = (path: string): Promise<boolean> =>
  stat(path).then(
    (info) => info.isFile(),
    () => false,
  );

/** Reads `npm run dev`'s `.local/dev.json` and keeps only what the page needs. */
export function devSessionFromFile(path: string): () => Promise<DevSession | undefined> {
  return async () => {
    try {
      const raw = JSON.parse(await readFile(path, 'utf8')) as Partial<DevSession>;
      if (typeof raw.apiBaseUrl !== 'string' || typeof raw.callerToken !== 'string') return undefined;
      return { apiBaseUrl: raw.apiBaseUrl, callerToken: raw.callerToken };
    } catch {
      return undefined;
    }
  };
}

export async function serveChatPage(options: ServeOptions = {}): Promise<PageServer> {
  const root = resolve(options.root ?? DEFAULT_OUTDIR);
  let origin = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // NOTE: only this origin's own host names: a page on another site that rebinds a domain to 127.0.0.1
    // must not read the development token.
    const host = req.headers.host ?? '';
    const port = new URL(origin).port;
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
      send(res, 421, contentTypes['.txt'] ?? '', 'Misdirected request');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, contentTypes['.txt'] ?? '', 'Method not allowed');
      return;
    }
    const { pathname } = new URL(req.url ?? '/', origin);
    if (pathname === '/dev.json') {
      const session = await options.devSession?.();
      if (session) send(res, 200, contentTypes['.json'] ?? '', JSON.stringify(session));
      else send(res, 404, contentTypes['.txt'] ?? '', 'No development session: start it with npm run dev.');
      return;
    }
    const relative = normalize(decodeURIComponent(pathname === '/' ? '/index.html' : pathname));
    const file = join(root, relative);
    if (!file.startsWith(root + sep)) {
      send(res, 404, contentTypes['.txt'] ?? '', 'Not found');
      return;
    }
    if (await isFile(file)) {
      send(res, 200, contentTypes[extname(file)] ?? 'application/octet-stream', await readFile(file));
    } else if (pathname === '/config.json' && options.config !== undefined) {
      send(res, 200, contentTypes['.json'] ?? '', JSON.stringify(options.config));
    } else {
      send(res, 404, contentTypes['.txt'] ?? '', 'Not found');
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, contentTypes['.txt'] ?? '', 'Internal error');
      else res.destroy();
    });
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? DEFAULT_PORT, '127.0.0.1', () => {
      server.off('error', fail);
      ready();
    });
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => {
          done();
        });
      }),
  };
}

async function main(): Promise<void> {
  const portFlag = process.argv.indexOf('--port');
  const port = portFlag === -1 ? DEFAULT_PORT : Number(process.argv[portFlag + 1]);
  const configFile = join(PAGE_DIR, 'config.json');
  const pageConfig = (await isFile(configFile))
    ? (JSON.parse(await readFile(configFile, 'utf8')) as { auth?: { mode?: unknown } })
    : {};
  const msal = pageConfig.auth?.mode === 'msal';
  const root = await buildChatPage();
  const server = await serveChatPage({
    root,
    port,
    config: { auth: { mode: 'dev' } },
    ...(msal ? {} : { devSession: devSessionFromFile(join(PAGE_DIR, '..', '..', '.local', 'dev.json')) }),
  });
  console.log(`Chat page: ${server.origin}/`);
  console.log(
    msal
      ? 'Signing in with Microsoft Entra ID (examples/chat/config.json).'
      : 'Development mode: the caller token comes from .local/dev.json (run npm run dev first).',
  );
  const stop = () => {
    void server.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] === import.meta.filename) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
