import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HostOutput } from './HostLogger';
import type { HostKeys } from './HostRequestHandler';
import type { CorsSettings } from './readLocalSettings';

export interface SpawnHostOptions {
  /** Port on 127.0.0.1; 0 picks a free one. Default: 0. */
  port?: number;
  /** The app's whole environment; only PATH, HOME and temp/locale variables are added from this process when missing. */
  env: Record<string, string>;
  /** App directory. Default: the repository root (which serves the built dist/index.js). */
  appRoot?: string;
  /** CORS origins and credentials. Default: none. */
  cors?: CorsSettings;
  /** Read local.settings.json in the app process. Default: false, so `env` is all the app sees. */
  loadLocalSettings?: boolean;
  /** Keys for `function` and `admin` auth levels. Default: random. */
  keys?: Partial<HostKeys>;
  /** Show debug logs. Default: false. */
  verbose?: boolean;
  /** How long to wait for the host to listen. Default: 30 s. */
  startTimeoutMs?: number;
  /** Also passes the host's output on as it arrives (for a terminal). Default: only kept for `logs()`. */
  output?: HostOutput;
  /** Extra Node.js options for the host process, such as `--cpu-prof`. Default: none. */
  nodeArguments?: readonly string[];
}

export interface SpawnedHost {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `url` plus the route prefix, e.g. `http://127.0.0.1:PORT/api`. */
  apiBaseUrl: string;
  pid: number;
  keys: HostKeys;
  /** Everything the host wrote to stdout and stderr so far. */
  logs(): string;
  /** Settles when the host process exits, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL if it has not exited after a grace period; resolves once it exited. */
  close(): Promise<void>;
}

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const cliPath = fileURLToPath(new URL('./cli.ts', import.meta.url));
const inheritedVariables = [
  'PATH',
  'Path',
  'HOME',
  'USERPROFILE',
  'TMPDIR',
  'TMP',
  'TEMP',
  'SystemRoot',
  'ComSpec',
  'PATHEXT',
  'LANG',
  'TZ',
];
const listeningLine = /Host listening on (http:\/\/127\.0\.0\.1:\d+) \(API base (\S+)\)/;
const maxLogChars = 4 * 1024 * 1024;

function baseEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of inheritedVariables) {
    const value = process.env[name];
    if (value !== undefined) {
      env[name] = value;
    }
  }
  return env;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * Starts the local host in a child process (node with the tsx loader running tools/host/cli.ts) so the app
 * gets a fresh process: process-wide state such as managed-identity token caches and
 * NODE_EXTRA_CA_CERTS (read at process start) cannot leak between test files. Resolves once the host
 * prints its listening line; the child is killed if this process exits first.
 */
export async function spawnHost(options: SpawnHostOptions): Promise<SpawnedHost> {
  const keys: HostKeys = {
    function: options.keys?.function ?? randomBytes(32).toString('base64url'),
    master: options.keys?.master ?? randomBytes(32).toString('base64url'),
  };
  const appRoot = options.appRoot ?? repositoryRoot;
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const args = [
    ...(options.nodeArguments ?? []),
    '--import',
    tsxLoader,
    cliPath,
    '--port',
    String(options.port ?? 0),
    '--app-root',
    appRoot,
    // NOTE: the `=` form, because a generated base64url key may start with '-'.
    `--function-key=${keys.function}`,
    `--master-key=${keys.master}`,
  ];
  if (!options.loadLocalSettings) {
    args.push('--no-local-settings');
  }
  if (options.cors) {
    args.push('--cors', options.cors.origins.join(','));
    if (options.cors.credentials) {
      args.push('--cors-credentials');
    }
  }
  if (options.verbose) {
    args.push('--verbose');
  }

  const child = spawn(process.execPath, args, {
    cwd: appRoot,
    env: { ...baseEnvironment(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // NOTE: the IPC channel only exists so the child notices when this process dies; it must not keep us alive.
  child.channel?.unref();
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  let output = '';
  const append = (text: string): void => {
    output += text;
    if (output.length > maxLogChars) {
      output = output.slice(-maxLogChars);
    }
  };
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (text: string) => {
    append(text);
    options.output?.stdout(text);
  });
  child.stderr?.on('data', (text: string) => {
    append(text);
    options.output?.stderr(text);
  });
  child.on('error', (error) => {
    output += `\n[spawnHost] ${error.message}\n`;
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          if (!(await waitForExit(child, 10_000))) {
            child.kill('SIGKILL');
            await waitForExit(child, 5_000);
          }
        }
      } finally {
        process.off('exit', killOnExit);
      }
    })();
    return closing;
  };

  const ready = await new Promise<{ url: string; apiBaseUrl: string } | Error>((resolve) => {
    const startTimeoutMs = options.startTimeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      finish(new Error(`The host did not start listening within ${startTimeoutMs} ms.`));
    }, startTimeoutMs);
    const onData = (): void => {
      const match = listeningLine.exec(output);
      if (match?.[1] && match[2]) {
        finish({ url: match[1], apiBaseUrl: match[2] });
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      finish(
        new Error(`The host exited (${signal ?? `code ${code ?? 'unknown'}`}) before it was listening.`),
      );
    };
    const onError = (error: Error): void => {
      finish(error);
    };
    function finish(result: { url: string; apiBaseUrl: string } | Error): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      resolve(result);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
  if (ready instanceof Error) {
    await close();
    throw new Error(`${ready.message}\n--- host output ---\n${output}`, { cause: ready });
  }

  return {
    url: ready.url,
    apiBaseUrl: ready.apiBaseUrl,
    pid: child.pid ?? -1,
    keys,
    logs: () => output,
    exited,
    close,
  };
}
