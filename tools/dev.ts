import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseCommandLine, portOption } from './cliStart.js';
import { startEmulator, type Emulator } from './emulator/index.js';
import { spawnHost } from './host/index.js';
import { parseOrigins } from './host/readLocalSettings.js';
import { acceptEntraLogins, startLocalRedis } from './localRedis.js';

const usage = `Starts the whole stack offline: builds the app, starts the Azure emulator, then runs the app with
'func start' when Core Tools are on PATH, else with the local host (tools/host).

Usage: npm run dev -- [options]

  --port <n>            app port on 127.0.0.1 (env GATEWAY_PORT, default 7071)
  --emulator-port <n>   emulator http port (env EMULATOR_PORT, default: a free port)
  --arm-port <n>        emulator ARM https port (env EMULATOR_ARM_PORT, default: a free port)
  --credential <kind>   managedidentity or azurecli (default: azurecli, as on a laptop)
  --cors <origins>      extra comma-separated CORS origins (the example page's are always allowed)
  --limits <store>      memory (default) or redis: per-caller limits in a local redis-server (apt-get install
                        redis-server), which the app logs in to with its Entra token, as in Azure
  --local-host          use the local host even when func is on PATH
  --no-build            serve the existing dist/ as is
  --help                show this text
`;

const repositoryRoot = fileURLToPath(new URL('../', import.meta.url));
const devFile = path.join(repositoryRoot, '.local', 'dev.json');
const examplePageOrigins = ['http://127.0.0.1:5173', 'http://localhost:5173'];
const buildTimeoutMs = 120_000;
const funcStartTimeoutMs = 180_000;
/** Caller tokens last an hour, as Entra's do; .local/dev.json gets a new one well before that. */
const callerTokenRefreshMs = 45 * 60_000;

interface DevOptions {
  port: number;
  emulatorPort: number;
  armPort: number;
  credential: 'managedidentity' | 'azurecli';
  origins: string[];
  preferLocalHost: boolean;
  build: boolean;
  limits: 'memory' | 'redis';
}

/** The running app, whichever host serves it. */
interface AppProcess {
  kind: 'func start' | 'local host';
  apiBaseUrl: string;
  exited: Promise<unknown>;
  stop(): Promise<void>;
}

function toOptions(argv: string[]): DevOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'emulator-port': { type: 'string' },
      'arm-port': { type: 'string' },
      credential: { type: 'string', default: 'azurecli' },
      cors: { type: 'string', multiple: true, default: [] },
      limits: { type: 'string', default: 'memory' },
      'local-host': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    return undefined;
  }
  if (values.credential !== 'managedidentity' && values.credential !== 'azurecli') {
    throw new Error(`--credential must be managedidentity or azurecli, got '${values.credential}'.`);
  }
  if (values.limits !== 'memory' && values.limits !== 'redis') {
    throw new Error(`--limits must be memory or redis, got '${values.limits}'.`);
  }
  const extraOrigins = values.cors.flatMap(parseOrigins);
  return {
    port: portOption(values.port ?? process.env.GATEWAY_PORT, '--port', 7071),
    emulatorPort: portOption(values['emulator-port'] ?? process.env.EMULATOR_PORT, '--emulator-port', 0),
    armPort: portOption(values['arm-port'] ?? process.env.EMULATOR_ARM_PORT, '--arm-port', 0),
    credential: values.credential,
    origins: [...new Set([...examplePageOrigins, ...extraOrigins])],
    preferLocalHost: values['local-host'],
    build: !values['no-build'],
    limits: values.limits,
  };
}

/** Fails at once, naming --port, when another process (often an earlier dev session) holds the app port. */
function assertPortFree(port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `Port ${port} on 127.0.0.1 is already in use: another 'npm run dev' or 'func start' may still be running. ` +
                `Stop it, or start on another port: npm run dev -- --port ${port === 65535 ? port - 1 : port + 1} (or GATEWAY_PORT).`,
            )
          : error,
      );
    });
    probe.listen(port, '127.0.0.1', () => {
      probe.close(() => {
        resolve();
      });
    });
  });
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function runBuild(): Promise<void> {
  process.stdout.write('Building dist/ (npm run build)…\n');
  const child = spawn(process.execPath, ['tools/build.mjs'], { cwd: repositoryRoot, stdio: 'inherit' });
  if (!(await waitForExit(child, buildTimeoutMs))) {
    child.kill('SIGKILL');
    throw new Error(`The build did not finish within ${buildTimeoutMs / 1000} s.`);
  }
  if (child.exitCode !== 0) {
    throw new Error(`The build failed (exit code ${child.exitCode ?? child.signalCode ?? 'unknown'}).`);
  }
}

/** The absolute path of an executable `func` on PATH, if Core Tools are installed. */
async function findFunc(): Promise<string | undefined> {
  const names = process.platform === 'win32' ? ['func.cmd', 'func.exe'] : ['func'];
  for (const directory of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of names) {
      const candidate = path.join(directory, name);
      try {
        await access(candidate, constants.X_OK);
        return candidate;
      } catch {
        continue;
      }
    }
  }
  return undefined;
}

function inheritedEnvironment(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

async function startWithFunc(
  funcPath: string,
  options: DevOptions,
  env: Record<string, string>,
): Promise<AppProcess> {
  process.stdout.write(`Starting the app with ${funcPath} start…\n`);
  // NOTE: its own process group, so stopping reaches the worker processes func starts too.
  const child = spawn(
    funcPath,
    ['start', '--port', String(options.port), '--cors', options.origins.join(',')],
    {
      cwd: repositoryRoot,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: process.platform !== 'win32',
    },
  );
  const exited = new Promise<unknown>((resolve) => child.once('exit', resolve));
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined && process.platform !== 'win32') {
        process.kill(-child.pid, signal);
      } else {
        child.kill(signal);
      }
    } catch {
      // NOTE: the group is already gone.
    }
  };
  const stop = async (): Promise<void> => {
    signalGroup('SIGTERM');
    if (!(await waitForExit(child, 10_000))) {
      signalGroup('SIGKILL');
      await waitForExit(child, 5_000);
    }
  };
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + funcStartTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error('func start exited before the host was running.');
    }
    const status = await fetch(`${url}/admin/host/status`, { signal: AbortSignal.timeout(2000) })
      .then((response) => (response.ok ? (response.json() as Promise<{ state?: string }>) : undefined))
      .catch(() => undefined);
    if (status?.state === 'Running') {
      return { kind: 'func start', apiBaseUrl: `${url}/api`, exited, stop };
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`func start was not running after ${funcStartTimeoutMs / 1000} s.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function startWithLocalHost(options: DevOptions, env: Record<string, string>): Promise<AppProcess> {
  process.stdout.write('Core Tools (func) not used: starting the app with the local host (tools/host)…\n');
  const host = await spawnHost({
    port: options.port,
    env,
    appRoot: repositoryRoot,
    // NOTE: like func, Values from local.settings.json fill in what the environment leaves unset.
    loadLocalSettings: true,
    cors: { origins: options.origins },
    output: { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) },
  });
  return { kind: 'local host', apiBaseUrl: host.apiBaseUrl, exited: host.exited, stop: () => host.close() };
}

function quoteForShell(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function banner(app: AppProcess, emulator: Emulator, limits: DevOptions['limits']): string {
  const body = JSON.stringify({
    model: emulator.deployment,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  const sdk =
    `import OpenAI from "openai"; ` +
    `const client = new OpenAI({ baseURL: "${app.apiBaseUrl}", apiKey: process.env.CALLER_TOKEN }); ` +
    `const reply = await client.chat.completions.create({ model: "${emulator.deployment}", messages: [{ role: "user", content: "Say hello" }] }); ` +
    `console.log(reply.choices[0].message.content);`;
  return [
    '',
    `The gateway runs offline (${app.kind}) against the Azure emulator.`,
    `  API           ${app.apiBaseUrl}`,
    `  Emulator      ${emulator.urls.base} (ARM ${emulator.urls.arm}, admin ${emulator.urls.admin})`,
    `  CORS origins  ${examplePageOrigins.join(', ')} (plus --cors)`,
    `  Limits        ${limits === 'redis' ? 'shared in a local redis-server (--limits redis)' : "this instance's memory (--limits redis to share them)"}`,
    `  Settings      ${path.relative(repositoryRoot, devFile)} (apiBaseUrl, callerToken, emulator endpoints)`,
    `  Caller token  lasts an hour; ${path.relative(repositoryRoot, devFile)} gets a fresh one every ${callerTokenRefreshMs / 60_000} minutes`,
    '',
    'Try it (paste into a shell in this folder):',
    '',
    `export CALLER_TOKEN=$(node -p "require('./.local/dev.json').callerToken")   # again when it expires`,
    `curl -sS ${app.apiBaseUrl}/chat/completions -H "Authorization: Bearer $CALLER_TOKEN" -H 'Content-Type: application/json' -d ${quoteForShell(body)}`,
    `node --input-type=module -e ${quoteForShell(sdk)}`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseCommandLine(process.argv.slice(2), usage, toOptions);
  if (!options) {
    return;
  }

  const cleanups: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      for (const cleanup of cleanups.reverse()) {
        await cleanup().catch((error: unknown) => {
          process.stderr.write(
            `Stopping failed: ${error instanceof Error ? error.message : String(error)}\n`,
          );
        });
      }
    })();
    return stopping;
  };
  const session = { signalled: false };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (session.signalled) {
      process.stderr.write(`${signal} again: exiting without waiting.\n`);
      process.exit(1);
    }
    session.signalled = true;
    process.stdout.write(`\n${signal}: stopping the app and the emulator…\n`);
    const forceExit = setTimeout(() => process.exit(1), 20_000);
    forceExit.unref();
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // NOTE: `npm run dev` stopped with SIGTERM kills only its shell; noticing the new parent stops the rest.
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid !== parent) onSignal('SIGTERM');
  }, 1_000);
  orphanWatch.unref();

  try {
    await assertPortFree(options.port);
    if (options.build) {
      await runBuild();
    }
    const emulator = await startEmulator({ port: options.emulatorPort, armPort: options.armPort });
    cleanups.push(() => emulator.close());
    process.stdout.write(`Azure emulator on ${emulator.urls.base} (ARM ${emulator.urls.arm}).\n`);

    const env = { ...inheritedEnvironment(), ...emulator.appSettings({ credential: options.credential }) };
    if (options.limits === 'redis') {
      const redis = await startLocalRedis();
      cleanups.push(() => redis.close());
      const logins = acceptEntraLogins(redis, (listener) => emulator.onServiceToken(listener));
      cleanups.push(() => {
        logins.stop();
        return Promise.resolve();
      });
      Object.assign(env, {
        LIMITS_STORE: 'redis',
        LIMITS_REDIS_HOST: redis.host,
        LIMITS_REDIS_PORT: String(redis.port),
        LIMITS_REDIS_TLS: 'false',
        LIMITS_REDIS_AUTH: 'entra',
      });
      process.stdout.write(`Shared limits in redis-server on ${redis.host}:${redis.port}.\n`);
    }
    const funcPath = options.preferLocalHost ? undefined : await findFunc();
    const app = funcPath
      ? await startWithFunc(funcPath, options, env)
      : await startWithLocalHost(options, env);
    cleanups.push(() => app.stop());

    await mkdir(path.dirname(devFile), { recursive: true });
    const devSettings = (callerToken: string) => ({
      apiBaseUrl: app.apiBaseUrl,
      callerToken,
      emulator: {
        openaiEndpoint: emulator.urls.openai,
        armEndpoint: emulator.urls.arm,
        identityEndpoint: emulator.urls.identity,
        adminUrl: emulator.urls.admin,
        caCertPath: emulator.caCertPath,
        authorityHost: emulator.urls.authorityHost,
        tenantId: emulator.tenantId,
        apiClientId: emulator.api.clientId,
        apiApplicationIdUri: emulator.api.applicationIdUri,
      },
    });
    const writeDevFile = async (): Promise<void> => {
      const callerToken = await emulator.mintCallerToken();
      await writeFile(devFile, `${JSON.stringify(devSettings(callerToken), null, 2)}\n`, { mode: 0o600 });
    };
    await writeDevFile();
    // NOTE: the file means "a dev session is running"; a stale one would hand out a dead URL and token.
    cleanups.push(() => rm(devFile, { force: true }));
    // NOTE: the example page and the README's commands read the token from the file, so they stay signed in.
    const renew = setInterval(() => {
      writeDevFile().catch((error: unknown) => {
        process.stderr.write(
          `Renewing the caller token failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      });
    }, callerTokenRefreshMs);
    renew.unref();
    cleanups.push(() => {
      clearInterval(renew);
      return Promise.resolve();
    });
    process.stdout.write(banner(app, emulator, options.limits));

    await app.exited;
    if (!session.signalled) {
      process.stderr.write(`The app (${app.kind}) exited on its own; stopping the emulator.\n`);
      await stopAll();
      process.exit(1);
    }
  } catch (error) {
    process.stderr.write(`npm run dev failed: ${error instanceof Error ? error.message : String(error)}\n`);
    await stopAll();
    process.exit(1);
  }
}

void main();
