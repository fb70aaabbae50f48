import { findDeployment } from './catalog';
import { parseCallerTokenOptions, type ApiRegistration, type CallerTokenOptions } from './entra';
import {
  emptyStats,
  type EmulatorContext,
  type EmulatorPrincipals,
  type EmulatorStats,
  type EmulatorUrls,
} from './emulator-context';
import { parseFault, type Fault } from './faults';
import { InvalidInputError, isRecord, parseJson, readBody, sendJson, type RequestHandler } from './http-util';
import { parseRateLimit, type RateLimit } from './rate-limits';
import type { UpstreamRequestRecord } from './request-log';
import {
  isRoleName,
  parseRoleAssignmentRequest,
  type RoleAssignment,
  type RoleAssignmentRequest,
  type RoleName,
} from './roles';

/**
 * Test controls. The same operations are served over HTTP under `urls.admin` (see adminRoutes), so another
 * process can drive the emulator with connectEmulatorAdmin.
 */
export interface EmulatorAdmin {
  setFault(fault: Fault): Promise<void>;
  clearFaults(): Promise<void>;
  assignRole(request: RoleAssignmentRequest): Promise<RoleAssignment>;
  /** Removes the principal's assignments of `role` (default: all its roles); answers how many went. */
  removeRole(principalId: string, role?: RoleName): Promise<number>;
  listRoles(): Promise<RoleAssignment[]>;
  /** false makes `az` answer "ERROR: Please run 'az login' to setup account." with exit code 1. */
  setAzLoggedIn(loggedIn: boolean): Promise<void>;
  setRateLimit(deployment: string, limit: Partial<RateLimit>): Promise<RateLimit>;
  resetRateLimits(): Promise<void>;
  stats(): Promise<EmulatorStats>;
  resetStats(): Promise<void>;
  /** Every Azure OpenAI request served since start or the last clear, oldest first, with how each ended. */
  requests(): Promise<UpstreamRequestRecord[]>;
  clearRequests(): Promise<void>;
  /** Lifetime of the service tokens issued from now on (identity endpoint and `az`), in seconds. */
  setTokenLifetime(seconds: number): Promise<void>;
  /** Back to the start state: roles, faults, limits, stats, request records, token lifetime and az login. */
  reset(): Promise<void>;
}

/** What a separate process needs to know to point an app at the emulator. */
export interface EmulatorInfo {
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  accountName: string;
  location: string;
  /** The default chat deployment, 'gpt-4o-mini'. */
  deployment: string;
  /** Audience of caller tokens for the gateway API, 'api://keyless-gateway'. */
  /** The API app registration caller tokens are for: client id (v2 aud), application id URI (v1 aud), scope. */
  api: ApiRegistration;
  urls: EmulatorUrls;
  /** Value the identity endpoint expects in x-identity-header. */
  identityHeader: string;
  /** PEM of the self-signed ARM certificate (for NODE_EXTRA_CA_CERTS or `tlsOptions.ca`). */
  caCertPath: string;
  /** Absolute directory holding an executable `az`. */
  azBinDir: string;
  principals: EmulatorPrincipals;
}

function attempt<T>(operation: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(operation());
  });
}

const DEFAULT_TOKEN_LIFETIME_SECONDS = 3600;

function parseTokenLifetime(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 86_400) {
    throw new InvalidInputError('seconds must be an integer from 1 to 86400');
  }
  return value;
}

export function createLocalAdmin(
  ctx: EmulatorContext,
  startTokenLifetimeSeconds = DEFAULT_TOKEN_LIFETIME_SECONDS,
): EmulatorAdmin {
  const admin: EmulatorAdmin = {
    setFault: (fault) =>
      attempt(() => {
        ctx.faults.set(parseFault(fault));
      }),
    clearFaults: () =>
      attempt(() => {
        ctx.faults.clear();
      }),
    assignRole: (request) => attempt(() => ctx.roles.assign(parseRoleAssignmentRequest(request))),
    removeRole: (principalId, role) =>
      attempt(() => {
        if (role !== undefined && !isRoleName(role))
          throw new InvalidInputError(`unknown role ${String(role)}`);
        return ctx.roles.remove(principalId, role);
      }),
    listRoles: () => attempt(() => ctx.roles.list()),
    setAzLoggedIn: (loggedIn) =>
      attempt(() => {
        if (typeof loggedIn !== 'boolean') throw new InvalidInputError('loggedIn must be a boolean');
        ctx.az.loggedIn = loggedIn;
      }),
    setRateLimit: (deployment, limit) =>
      attempt(() => {
        if (!findDeployment(deployment)) throw new InvalidInputError(`unknown deployment ${deployment}`);
        return ctx.rateLimits.set(deployment, parseRateLimit(limit));
      }),
    resetRateLimits: () =>
      attempt(() => {
        ctx.rateLimits.reset();
      }),
    stats: () => attempt(() => ({ ...ctx.stats })),
    resetStats: () =>
      attempt(() => {
        Object.assign(ctx.stats, emptyStats());
      }),
    requests: () => attempt(() => ctx.requests.list()),
    clearRequests: () =>
      attempt(() => {
        ctx.requests.clear();
      }),
    setTokenLifetime: (seconds) =>
      attempt(() => {
        ctx.entra.serviceTokenLifetimeSeconds = parseTokenLifetime(seconds);
      }),
    reset: () =>
      attempt(() => {
        ctx.requests.clear();
        ctx.entra.serviceTokenLifetimeSeconds = startTokenLifetimeSeconds;
        ctx.roles.reset();
        ctx.faults.clear();
        ctx.rateLimits.reset();
        Object.assign(ctx.stats, emptyStats());
        ctx.az.loggedIn = true;
      }),
  };
  return admin;
}

interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: RegExp;
  run: (body: unknown, match: RegExpExecArray, url: URL) => Promise<unknown>;
}

function adminRoutes(
  admin: EmulatorAdmin,
  info: () => EmulatorInfo,
  mintCallerToken: (options: CallerTokenOptions) => Promise<string>,
): AdminRoute[] {
  const segment = (match: RegExpExecArray): string => decodeURIComponent(match[1] ?? '');
  return [
    { method: 'GET', path: /^\/admin\/info$/, run: () => Promise.resolve(info()) },
    { method: 'GET', path: /^\/admin\/stats$/, run: () => admin.stats() },
    { method: 'DELETE', path: /^\/admin\/stats$/, run: () => admin.resetStats() },
    { method: 'GET', path: /^\/admin\/requests$/, run: () => admin.requests() },
    { method: 'DELETE', path: /^\/admin\/requests$/, run: () => admin.clearRequests() },
    {
      method: 'PUT',
      path: /^\/admin\/token-lifetime$/,
      run: (body) => admin.setTokenLifetime(parseTokenLifetime(isRecord(body) ? body.seconds : undefined)),
    },
    { method: 'POST', path: /^\/admin\/faults$/, run: (body) => admin.setFault(parseFault(body)) },
    { method: 'DELETE', path: /^\/admin\/faults$/, run: () => admin.clearFaults() },
    { method: 'GET', path: /^\/admin\/roles$/, run: () => admin.listRoles() },
    {
      method: 'POST',
      path: /^\/admin\/roles$/,
      run: (body) => admin.assignRole(parseRoleAssignmentRequest(body)),
    },
    {
      method: 'DELETE',
      path: /^\/admin\/roles\/([^/]+)$/,
      run: async (_body, match, url) => {
        const role = url.searchParams.get('role');
        if (role !== null && !isRoleName(role)) throw new InvalidInputError(`unknown role ${role}`);
        return { removed: await admin.removeRole(segment(match), role ?? undefined) };
      },
    },
    {
      method: 'PUT',
      path: /^\/admin\/az-login$/,
      run: (body) => {
        const loggedIn = isRecord(body) ? body.loggedIn : undefined;
        if (typeof loggedIn !== 'boolean')
          throw new InvalidInputError('the body must be {"loggedIn": boolean}');
        return admin.setAzLoggedIn(loggedIn);
      },
    },
    {
      method: 'PUT',
      path: /^\/admin\/rate-limits\/([^/]+)$/,
      run: (body, match) => admin.setRateLimit(segment(match), parseRateLimit(body)),
    },
    { method: 'DELETE', path: /^\/admin\/rate-limits$/, run: () => admin.resetRateLimits() },
    { method: 'POST', path: /^\/admin\/reset$/, run: () => admin.reset() },
    {
      method: 'POST',
      path: /^\/admin\/caller-token$/,
      run: async (body) => ({ token: await mintCallerToken(parseCallerTokenOptions(body)) }),
    },
  ];
}

const corsHeaders = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'content-type',
};

/** The admin API: JSON in, JSON out (`{"ok":true}` when an operation has nothing to return). */
export function createAdminEndpoint(
  admin: EmulatorAdmin,
  info: () => EmulatorInfo,
  mintCallerToken: (options: CallerTokenOptions) => Promise<string>,
): RequestHandler {
  const routes = adminRoutes(admin, info, mintCallerToken);
  return async (req, res, url) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, corsHeaders);
      res.end();
      return;
    }
    const candidates = routes.filter((route) => route.path.test(url.pathname));
    const route = candidates.find((candidate) => candidate.method === req.method);
    const match = route?.path.exec(url.pathname);
    if (!route || !match) {
      const status = candidates.length > 0 ? 405 : 404;
      const message =
        status === 405
          ? `${req.method ?? ''} is not allowed on ${url.pathname}`
          : `No admin route ${url.pathname}`;
      sendJson(
        res,
        status,
        { error: { code: status === 405 ? 'MethodNotAllowed' : 'NotFound', message } },
        corsHeaders,
      );
      return;
    }
    const text = await readBody(req);
    const body = text.trim() === '' ? undefined : parseJson(text);
    if (body && !body.ok) {
      sendJson(
        res,
        400,
        { error: { code: 'BadRequest', message: 'The body is not valid JSON.' } },
        corsHeaders,
      );
      return;
    }
    try {
      const result = await route.run(body?.value, match, url);
      sendJson(res, 200, result ?? { ok: true }, corsHeaders);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      sendJson(res, 400, { error: { code: 'BadRequest', message: error.message } }, corsHeaders);
    }
  };
}
