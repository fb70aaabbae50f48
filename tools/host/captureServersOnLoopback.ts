import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Runs `start` while every `http.Server` that listens without naming a host is bound to 127.0.0.1, and
 * returns the servers that started listening meanwhile.
 *
 * NOTE: with `enableHttpStream` the library starts its HTTP proxy with a bare `server.listen()`, which
 * binds every interface. Locally that would expose the app beyond the loopback host, and the server
 * handle would be unreachable for shutdown; capturing it fixes both.
 */
export async function captureServersOnLoopback<T>(
  start: () => Promise<T>,
): Promise<{ result: T; servers: http.Server[] }> {
  const servers: http.Server[] = [];
  const prototype = http.Server.prototype as { listen: (...args: unknown[]) => unknown };
  const originalListen = prototype.listen;
  const hadOwnListen = Object.prototype.hasOwnProperty.call(http.Server.prototype, 'listen');
  prototype.listen = function listenOnLoopback(this: http.Server, ...args: unknown[]): unknown {
    servers.push(this);
    return Reflect.apply(originalListen, this, onLoopback(args));
  };
  try {
    const result = await start();
    return { result, servers };
  } finally {
    if (hadOwnListen) {
      prototype.listen = originalListen;
    } else {
      delete (prototype as Partial<typeof prototype>).listen;
    }
  }
}

/** The port a captured server listens on, or undefined if it is not listening on TCP. */
export function listeningPort(server: http.Server): number | undefined {
  const address: AddressInfo | string | null = server.address();
  return typeof address === 'object' && address !== null ? address.port : undefined;
}

function onLoopback(args: unknown[]): unknown[] {
  const [first, second, ...rest] = args;
  if (typeof first === 'object' && first !== null) {
    return 'host' in first
      ? args
      : [{ ...first, host: '127.0.0.1' }, second, ...rest].filter((arg) => arg !== undefined);
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return typeof second === 'string' ? args : [first, '127.0.0.1', ...args.slice(1)];
  }
  if (typeof first === 'string') {
    return args;
  }
  // NOTE: no port at all, as in `listen(callback)`: an ephemeral port on loopback.
  return [0, '127.0.0.1', ...args];
}
