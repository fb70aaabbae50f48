import type { EmulatorAdmin, EmulatorInfo } from './admin';
import type { EmulatorStats } from './emulator-context';
import type { CallerTokenOptions } from './entra';
import type { RateLimit } from './rate-limits';
import type { UpstreamRequestRecord } from './request-log';
import type { RoleAssignment } from './roles';

/** The admin API seen from another process: the EmulatorAdmin operations plus what the in-process object has. */
export interface RemoteEmulatorAdmin extends EmulatorAdmin {
  info(): Promise<EmulatorInfo>;
  /** Over JSON a claim set to null is removed (JSON has no undefined). */
  mintCallerToken(options?: CallerTokenOptions): Promise<string>;
}

export class EmulatorAdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorAdminError';
  }
}

/** Drives a running emulator through its admin endpoint (`urls.admin`, also printed by `npm run emulator`). */
export function connectEmulatorAdmin(adminUrl: string, fetchImpl: typeof fetch = fetch): RemoteEmulatorAdmin {
  const base = adminUrl.replace(/\/+$/, '');

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetchImpl(`${base}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok)
      throw new EmulatorAdminError(response.status, `${method} ${path} → ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  async function done(method: string, path: string, body?: unknown): Promise<void> {
    await call(method, path, body);
  }

  const claimsForJson = (options: CallerTokenOptions): unknown => ({
    ...options,
    ...(options.claims
      ? {
          claims: Object.fromEntries(
            Object.entries(options.claims).map(([name, value]) => [name, value ?? null]),
          ),
        }
      : {}),
  });

  return {
    setFault: (fault) => done('POST', '/faults', fault),
    clearFaults: () => done('DELETE', '/faults'),
    assignRole: (request) => call<RoleAssignment>('POST', '/roles', request),
    removeRole: async (principalId, role) => {
      const query = role === undefined ? '' : `?role=${encodeURIComponent(role)}`;
      const { removed } = await call<{ removed: number }>(
        'DELETE',
        `/roles/${encodeURIComponent(principalId)}${query}`,
      );
      return removed;
    },
    listRoles: () => call<RoleAssignment[]>('GET', '/roles'),
    setAzLoggedIn: (loggedIn) => done('PUT', '/az-login', { loggedIn }),
    setRateLimit: (deployment, limit) =>
      call<RateLimit>('PUT', `/rate-limits/${encodeURIComponent(deployment)}`, limit),
    resetRateLimits: () => done('DELETE', '/rate-limits'),
    stats: () => call<EmulatorStats>('GET', '/stats'),
    resetStats: () => done('DELETE', '/stats'),
    requests: () => call<UpstreamRequestRecord[]>('GET', '/requests'),
    clearRequests: () => done('DELETE', '/requests'),
    setTokenLifetime: (seconds) => done('PUT', '/token-lifetime', { seconds }),
    reset: () => done('POST', '/reset'),
    info: () => call<EmulatorInfo>('GET', '/info'),
    mintCallerToken: async (options = {}) => {
      const { token } = await call<{ token: string }>('POST', '/caller-token', claimsForJson(options));
      return token;
    },
  };
}
