import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../tools/emulator/index';
import { spawnHost, type SpawnedHost } from '../../tools/host/index';

export interface StackOptions {
  /** How the app gets its Azure tokens: the identity endpoint or the emulator's `az`. Default: 'managedidentity'. */
  credential?: 'managedidentity' | 'azurecli';
  /** Use the user-assigned identity (AZURE_CLIENT_ID) on the managed identity path. Default: false. */
  userAssigned?: boolean;
  /** App settings laid over the emulator's, e.g. `{ UPSTREAM_MAX_RETRIES: '0' }`. */
  env?: Record<string, string>;
  emulator?: EmulatorOptions;
}

export interface Stack {
  emulator: Emulator;
  /** The gateway's base URL, `http://127.0.0.1:PORT/api`. */
  apiBaseUrl: string;
  /** A valid caller token for the gateway's API audience. */
  callerToken: string;
  /** The app host's output so far (stdout and stderr). */
  logs(): string;
  /** Process id of the app host (which runs the app in the same process). */
  hostPid: number;
  /** Stops the app host, then the emulator. Safe to call more than once. */
  stop(): Promise<void>;
}

const builtEntryPoint = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/**
 * The whole stack over real sockets: an emulator in the test process and the built app (dist/index.js) in
 * its own local-host process, configured only by the emulator's app settings plus `options.env`. A fresh
 * process per stack keeps MSAL's process-wide token cache and NODE_EXTRA_CA_CERTS per test file.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  await access(builtEntryPoint).catch((error: unknown) => {
    throw new Error(
      'dist/index.js is missing: run `npm run build` (vitest does it in test/support/global-setup.ts).',
      { cause: error },
    );
  });
  const emulator = await startEmulator(options.emulator ?? {});
  let host: SpawnedHost | undefined;
  try {
    const settings = emulator.appSettings({
      ...(options.credential ? { credential: options.credential } : {}),
      ...(options.userAssigned === undefined ? {} : { userAssigned: options.userAssigned }),
    });
    host = await spawnHost({ env: { ...settings, ...options.env } });
    const callerToken = await emulator.mintCallerToken();
    const running = host;
    let stopping: Promise<void> | undefined;
    return {
      emulator,
      apiBaseUrl: running.apiBaseUrl,
      callerToken,
      logs: () => running.logs(),
      hostPid: running.pid,
      stop: () => {
        stopping ??= running.close().finally(() => emulator.close());
        return stopping;
      },
    };
  } catch (error) {
    await host?.close();
    await emulator.close();
    throw error;
  }
}
