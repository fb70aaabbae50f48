import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildChatPage } from '../../examples/chat/build';
import { serveChatPage, type PageServer } from '../../examples/chat/serve';
import { startEmulator, type Emulator } from '../../tools/emulator';
import { spawnHost, type SpawnedHost } from '../../tools/host';

/**
 * What `npm run dev` runs (the emulator, the built app in the local Functions host), plus the chat page on
 * its own origin, which the host's CORS list allows. A second page server on another origin is left out
 * of that list, for the CORS refusal.
 */
export interface PageStack {
  emulator: Emulator;
  host: SpawnedHost;
  /** The page on an origin the API allows. */
  page: PageServer;
  /** The same page on an origin the API does not allow. */
  stranger: PageServer;
  apiBaseUrl: string;
  /** Development sessions hand out this token; tests may replace it (one caller per test keeps limits apart). */
  callerToken: string;
  stop(): Promise<void>;
}

export async function startPageStack(): Promise<PageStack> {
  const cleanups: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const cleanup of cleanups.toReversed()) await cleanup().catch(() => undefined);
    })();
    return stopping;
  };
  try {
    await access(join(import.meta.dirname, '../../dist/index.js')).catch((error: unknown) => {
      throw new Error('dist/index.js is missing: run `npm run build` first.', { cause: error });
    });
    const outdir = await mkdtemp(join(tmpdir(), 'chat-page-'));
    cleanups.push(() => rm(outdir, { recursive: true, force: true }));
    const root = await buildChatPage({ outdir, minify: false, configFile: join(outdir, 'no-config.json') });

    const emulator: Emulator = await startEmulator();
    cleanups.push(() => emulator.close());

    const session = { apiBaseUrl: '', callerToken: '' };
    const pageOptions = {
      root,
      port: 0,
      config: { auth: { mode: 'dev' } },
      devSession: () => Promise.resolve(session),
    };
    const page = await serveChatPage(pageOptions);
    cleanups.push(() => page.close());
    const stranger = await serveChatPage(pageOptions);
    cleanups.push(() => stranger.close());

    const host = await spawnHost({ env: emulator.appSettings(), cors: { origins: [page.origin] } });
    cleanups.push(() => host.close());
    session.apiBaseUrl = host.apiBaseUrl;
    session.callerToken = await emulator.mintCallerToken();

    return {
      emulator,
      host,
      page,
      stranger,
      apiBaseUrl: host.apiBaseUrl,
      get callerToken() {
        return session.callerToken;
      },
      set callerToken(token: string) {
        session.callerToken = token;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
