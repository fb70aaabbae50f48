import { createClient } from '@redis/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A real Redis for tests and `npm run dev -- --limits redis`: Debian's `redis-server` on a free loopback port,
 * its files in a temporary folder, no persistence. It can be stopped and started again on the same port, so a
 * test can take the store away from a running gateway and give it back.
 */
export interface LocalRedis {
  host: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL); the port stays reserved for start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open but nothing is answered, like an overloaded store. */
  pause(): void;
  resume(): void;
  /** Runs one command as the default user (for example ACL SETUSER); answers the reply. */
  command(...args: string[]): Promise<unknown>;
  /** Stops the server and removes its folder. */
  close(): Promise<void>;
}

export interface LocalRedisOptions {
  /** Default: `redis-server` on PATH. */
  executable?: string;
  /** Lines the server writes, for a caller that wants to show them. Default: dropped. */
  output?: (text: string) => void;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
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

export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
  const executable = options.executable ?? 'redis-server';
  const dir = await mkdtemp(path.join(tmpdir(), 'local-redis-'));
  let port = await freePort();
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--loglevel',
      'warning',
    ];
    const started = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    const collect = (text: string): void => {
      output += text;
      options.output?.(text);
    };
    started.stdout.setEncoding('utf8').on('data', collect);
    started.stderr.setEncoding('utf8').on('data', collect);
    const spawnFailed = new Promise<Error>((resolve) => started.once('error', resolve));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const failure = await Promise.race([
        spawnFailed,
        new Promise<undefined>((resolve) =>
          setTimeout(() => {
            resolve(undefined);
          }, 50),
        ),
      ]);
      if (failure) {
        throw new Error(
          `Could not run ${executable} (${failure.message}). Install it: apt-get install redis-server.`,
        );
      }
      if (started.exitCode !== null) {
        throw new Error(`${executable} exited with code ${started.exitCode}: ${output.trim()}`);
      }
      if (await accepting(port)) return;
      if (Date.now() > deadline) {
        started.kill('SIGKILL');
        throw new Error(
          `${executable} did not accept connections on port ${port} within ${START_TIMEOUT_MS} ms.`,
        );
      }
    }
  };

  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running) return;
    running.kill('SIGCONT');
    running.kill('SIGTERM');
    if (!(await exited(running, STOP_TIMEOUT_MS))) {
      running.kill('SIGKILL');
      await exited(running, STOP_TIMEOUT_MS);
    }
  };

  // NOTE: another process can take the free port between the check and the server's bind; try a new one.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      await stop();
      if (attempt >= 3) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
      port = await freePort();
    }
  }

  const signal = (name: NodeJS.Signals): void => {
    child?.kill(name);
  };

  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    stop,
    start: async () => {
      if (child) return;
      await launch();
    },
    pause: () => {
      signal('SIGSTOP');
    },
    resume: () => {
      signal('SIGCONT');
    },
    command: async (...args) => {
      const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } });
      await client.connect();
      try {
        return await client.sendCommand(args);
      } finally {
        client.destroy();
      }
    },
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A token the emulated Entra issued for an identity (the emulator's IssuedServiceToken). */
export interface IdentityToken {
  resource: string;
  objectId: string;
  token: string;
}

/** What a local Redis knows of Entra: the identities it lets in. */
export interface EntraLogins {
  /** Every Redis-audience token let in so far, oldest first. */
  readonly issued: readonly IdentityToken[];
  /** Lets them all in again (a restarted local Redis forgets its users; Azure keeps its access policies). */
  restore(): Promise<void>;
  stop(): void;
}

const REDIS_RESOURCE = 'https://redis.azure.com';

/**
 * Stands in for Azure Managed Redis's Entra authentication and its `default` access policy assignment: each
 * token for https://redis.azure.com that the emulator issues becomes an ACL password of the user named by the
 * identity's object id, allowed the limits keys only. Azure validates the token itself; a local redis-server
 * can only be told which tokens to accept.
 */
export function acceptEntraLogins(
  redis: LocalRedis,
  onServiceToken: (listener: (token: IdentityToken) => Promise<void>) => () => void,
): EntraLogins {
  const issued: IdentityToken[] = [];
  const allow = async (token: IdentityToken): Promise<void> => {
    await redis.command(
      'ACL',
      'SETUSER',
      token.objectId,
      'on',
      `>${token.token}`,
      '~gateway:limits:*',
      '+@all',
    );
  };
  const stop = onServiceToken(async (token) => {
    if (token.resource.replace(/\/+$/, '') !== REDIS_RESOURCE) return;
    issued.push(token);
    await allow(token);
  });
  return {
    issued,
    restore: async () => {
      for (const token of issued) await allow(token);
    },
    stop,
  };
}
