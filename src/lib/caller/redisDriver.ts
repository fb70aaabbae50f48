import type { TokenCredential } from '@azure/identity';
import { createClient } from '@redis/client';
import { EntraIdCredentialsProviderFactory, REDIS_SCOPE_DEFAULT } from '@redis/entraid';

/**
 * The Redis client behind the shared limits: node-redis, authenticated with the app's own credential through
 * Microsoft Entra ID. Imported only when LIMITS_STORE is redis (the build puts it in a chunk of its own).
 */

export interface RedisTarget {
  host: string;
  port: number;
  tls: boolean;
  auth: 'entra' | 'none';
  /** Longest wait for a connection to open. */
  connectTimeoutMs: number;
}

export interface RedisEvents {
  /** The connection broke, could not open, or a token could not be renewed. Never carries a token. */
  error(message: string): void;
}

export interface RedisConnection {
  /** Settles once the first connection is open and authenticated (never rejects; it keeps trying). */
  ready: Promise<void>;
  /** EVALSHA, then EVAL when the server does not know the script yet. Rejects at once while disconnected. */
  evalScript(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  close(): Promise<void>;
}

export interface LuaScript {
  source: string;
  sha1: string;
}

/**
 * NOTE: Entra tokens live 60–90 minutes; renewing at 80% of the lifetime leaves a quarter of an hour to retry.
 * The new token is sent with AUTH on the open connection, so nothing is dropped
 * (learn.microsoft.com/azure/redis/entra-for-authentication).
 */
const TOKEN_REFRESH_RATIO = 0.8;
const MAX_RECONNECT_DELAY_MS = 5_000;

export function connectRedis(
  target: RedisTarget,
  credential: TokenCredential,
  events: RedisEvents,
): RedisConnection {
  const credentialsProvider =
    target.auth === 'entra'
      ? EntraIdCredentialsProviderFactory.createForDefaultAzureCredential({
          credential,
          scopes: REDIS_SCOPE_DEFAULT,
          tokenManagerConfig: {
            expirationRefreshRatio: TOKEN_REFRESH_RATIO,
            retry: { maxAttempts: 5, initialDelayMs: 500, maxDelayMs: 10_000, backoffMultiplier: 2 },
          },
          onReAuthenticationError: (error) => {
            events.error(`renewing the Microsoft Entra token for Redis failed: ${error.message}`);
          },
        })
      : undefined;
  const client = createClient({
    socket: {
      host: target.host,
      port: target.port,
      ...(target.tls ? { tls: true as const, servername: target.host } : {}),
      connectTimeout: target.connectTimeoutMs,
      // NOTE: keeps trying for as long as the app runs, so the store comes back without a restart.
      reconnectStrategy: (retries) => Math.min(100 * 2 ** Math.min(retries, 6), MAX_RECONNECT_DELAY_MS),
    },
    // NOTE: a command sent while disconnected fails at once instead of waiting in a queue; the limiter then
    // applies its fail mode.
    disableOfflineQueue: true,
    ...(credentialsProvider ? { credentialsProvider } : {}),
  });
  client.on('error', (error: unknown) => {
    events.error(error instanceof Error ? error.message : String(error));
  });
  const ready = client.connect().then(
    () => undefined,
    (error: unknown) => {
      events.error(error instanceof Error ? error.message : String(error));
    },
  );

  return {
    ready,
    async evalScript(script, keys, args) {
      const tail = [String(keys.length), ...keys, ...args];
      try {
        return await client.sendCommand(['EVALSHA', script.sha1, ...tail]);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return client.sendCommand(['EVAL', script.source, ...tail]);
      }
    },
    close: async () => {
      if (client.isOpen) client.destroy();
      return Promise.resolve();
    },
  };
}
