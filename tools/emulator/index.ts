import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAdminEndpoint, createLocalAdmin, type EmulatorAdmin, type EmulatorInfo } from './admin';
import { createArm } from './arm';
import { AZ_PATH, createAzEndpoint, writeAzCommand } from './az-command';
import { chatDeploymentNames, DEFAULT_DEPLOYMENT } from './catalog';
import {
  accountScopeId,
  emptyStats,
  subscriptionScopeId,
  type EmulatorContext,
  type EmulatorPrincipals,
  type EmulatorUrls,
} from './emulator-context';
import {
  createEntraEndpoint,
  Entra,
  isEntraPath,
  type ApiRegistration,
  type CallerTokenOptions,
} from './entra';
import { FaultStore } from './faults';
import { sendJson, type RequestHandler } from './http-util';
import { createIdentityEndpoint, IDENTITY_PATH } from './identity-endpoint';
import { createOpenAIDataPlane } from './openai-data-plane';
import { RateLimits } from './rate-limits';
import { RequestLog } from './request-log';
import { RoleStore, type RoleName, type RoleScope } from './roles';
import { createArmCertificate } from './tls';

export type { EmulatorAdmin, EmulatorInfo } from './admin';
export { connectEmulatorAdmin, EmulatorAdminError, type RemoteEmulatorAdmin } from './admin-client';
export type { EmulatorPrincipals, EmulatorStats, EmulatorUrls } from './emulator-context';
export type { ApiRegistration, CallerTokenOptions } from './entra';
export type { Fault, FaultTarget, LatencyFault, ResetFault, StallFault, StatusFault } from './faults';
export type { RateLimit } from './rate-limits';
export type { RequestOutcome, UpstreamRequestRecord } from './request-log';
export type { RoleAssignment, RoleAssignmentRequest, RoleName, RoleScope } from './roles';
export { BLOCK_COMPLETION, BLOCK_PROMPT, DEFAULT_COMPLETION_TOKENS } from './chat-completion';

export interface EmulatorOptions {
  /** Port of the http server (identity endpoint, Entra authority, Azure OpenAI, admin). Default 0 (ephemeral). */
  port?: number;
  /** Port of the https server (ARM). Default 0 (ephemeral). */
  armPort?: number;
  /** Where the CA certificate and the `az` script are written. Default a fresh temporary folder, removed on close. */
  dataDir?: string;
  /** Seconds before role assignments made after start take effect. Default 0. */
  propagationDelaySeconds?: number;
  /** Items per ARM page. Default 2, so every client exercises nextLink paging. */
  armPageSize?: number;
  /** Lifetime of the tokens the identity endpoint and `az` hand out. Default 3600. */
  tokenLifetimeSeconds?: number;
}

export type CredentialKind = 'managedidentity' | 'azurecli';

export interface Emulator extends EmulatorInfo {
  /**
   * Environment for the gateway app pointing at this emulator: every setting of src/lib/config.ts it needs,
   * IDENTITY_ENDPOINT/IDENTITY_HEADER for managedidentity (the default), AZURE_CLIENT_ID when userAssigned,
   * AUTH_* for caller auth, NODE_EXTRA_CA_CERTS, and for azurecli PATH with azBinDir first.
   */
  appSettings(options?: { credential?: CredentialKind; userAssigned?: boolean }): Record<string, string>;
  /**
   * A caller token for the gateway's own API as Entra issues it (RS256, the tenant key's kid, 1 h): by default a
   * signed-in user's v2 token (aud `api.clientId`, iss `${authorityHost}/${tenantId}/v2.0`, azp, scp
   * 'access_as_user'); `version: 1` gives aud `api.applicationIdUri` and the sts.windows.net issuer, `appOnly`
   * a daemon's client-credentials token. See entra.ts for the claims and their source.
   */
  mintCallerToken(options?: CallerTokenOptions): Promise<string>;
  admin: EmulatorAdmin;
  close(): Promise<void>;
}

const API_VERSION = '2024-10-21';
const DEFAULT_ARM_PAGE_SIZE = 2;

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('server has no TCP address'));
      else resolve(address.port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    // NOTE: drops keep-alive and stalled connections too; close() alone would wait for them.
    server.closeAllConnections();
  });
}

/** Runs a handler, turning an unexpected failure into a 500 so a bug in the emulator never hangs a test. */
function serve(handler: RequestHandler, base: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', base);
    handler(req, res, url).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`[azure-emulator] ${req.method ?? ''} ${url.pathname} failed: ${message}`);
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { error: { code: 'EmulatorError', message } });
    });
  };
}

function newPrincipals(subscriptionId: string, resourceGroup: string): EmulatorPrincipals {
  return {
    systemAssigned: { objectId: randomUUID(), clientId: randomUUID() },
    userAssigned: {
      clientId: randomUUID(),
      objectId: randomUUID(),
      resourceId: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-keyless-gateway`,
    },
    developer: { objectId: randomUUID(), upn: 'developer@emulator.example' },
    caller: { objectId: randomUUID(), clientId: randomUUID() },
    daemon: { objectId: randomUUID(), clientId: randomUUID() },
  };
}

/** The API app registration as docs/deployment.md creates it; a fresh client id for every start. */
function newApiRegistration(): ApiRegistration {
  const clientId = randomUUID();
  return { clientId, applicationIdUri: `api://${clientId}`, scope: 'access_as_user', accessTokenVersion: 2 };
}

/** Starts the local stand-in for every Azure service the gateway calls. Ids are fresh for every start. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'azure-emulator-')));
  const caCertPath = path.join(dataDir, 'arm-ca.pem');
  const azBinDir = path.join(dataDir, 'bin');

  const httpServer = createServer();
  const port = await listen(httpServer, options.port ?? 0);
  const base = `http://127.0.0.1:${port}`;

  const ids = {
    tenantId: randomUUID(),
    subscriptionId: randomUUID(),
    resourceGroup: 'rg-keyless-gateway',
    accountName: 'oai-keyless-gateway',
    location: 'eastus2',
  };
  const principals = newPrincipals(ids.subscriptionId, ids.resourceGroup);
  const api = newApiRegistration();
  const [tls, entra] = await Promise.all([
    createArmCertificate(),
    Entra.create(ids.tenantId, base, api, { user: principals.caller, daemon: principals.daemon }),
    mkdir(dataDir, { recursive: true }),
  ]);
  const armServer = createHttpsServer({ key: tls.key, cert: tls.cert });
  let armPort: number;
  try {
    armPort = await listen(armServer, options.armPort ?? 0);
  } catch (error) {
    await closeServer(httpServer);
    throw error;
  }
  const urls: EmulatorUrls = {
    base,
    openai: base,
    arm: `https://127.0.0.1:${armPort}`,
    identity: `${base}${IDENTITY_PATH}`,
    authorityHost: base,
    admin: `${base}/admin`,
  };
  await Promise.all([writeFile(caCertPath, tls.cert), writeAzCommand(azBinDir, base)]);

  // NOTE: the app's identities and the developer start with exactly what the Bicep templates grant.
  const seed = [
    principals.systemAssigned.objectId,
    principals.userAssigned.objectId,
    principals.developer.objectId,
  ].flatMap((principalId): { principalId: string; role: RoleName; scope: RoleScope }[] => [
    { principalId, role: 'Cognitive Services OpenAI User', scope: 'account' },
    { principalId, role: 'Reader', scope: 'subscription' },
  ]);
  const closing = new AbortController();
  const ctx: EmulatorContext = {
    ids,
    principals,
    identityHeader: randomBytes(16).toString('hex'),
    urls,
    entra,
    roles: new RoleStore(
      { account: accountScopeId(ids), subscription: subscriptionScopeId(ids) },
      seed,
      options.propagationDelaySeconds ?? 0,
    ),
    faults: new FaultStore(),
    rateLimits: new RateLimits(),
    stats: emptyStats(),
    requests: new RequestLog(),
    az: { loggedIn: true },
    closing: closing.signal,
  };

  const admin = createLocalAdmin(ctx, options.tokenLifetimeSeconds);
  if (options.tokenLifetimeSeconds !== undefined) await admin.setTokenLifetime(options.tokenLifetimeSeconds);
  const mintCallerToken = (tokenOptions?: CallerTokenOptions): Promise<string> =>
    entra.mintCallerToken(tokenOptions);
  const info = (): EmulatorInfo => ({
    ...ids,
    deployment: DEFAULT_DEPLOYMENT,
    api,
    urls,
    identityHeader: ctx.identityHeader,
    caCertPath,
    azBinDir,
    principals,
  });
  const handlers = {
    admin: createAdminEndpoint(admin, info, mintCallerToken),
    identity: createIdentityEndpoint(ctx),
    az: createAzEndpoint(ctx),
    entra: createEntraEndpoint(entra),
    openai: ctx.requests.record(createOpenAIDataPlane(ctx)),
  };
  const routeHttp: RequestHandler = (req, res, url) => {
    const { pathname } = url;
    if (pathname === '/admin' || pathname.startsWith('/admin/')) return handlers.admin(req, res, url);
    if (pathname === IDENTITY_PATH) return handlers.identity(req, res, url);
    if (pathname === AZ_PATH) return handlers.az(req, res, url);
    if (isEntraPath(pathname)) return handlers.entra(req, res, url);
    return handlers.openai(req, res, url);
  };
  httpServer.on('request', serve(routeHttp, base));
  armServer.on('request', serve(createArm(ctx, options.armPageSize ?? DEFAULT_ARM_PAGE_SIZE), urls.arm));

  let closed: Promise<void> | undefined;
  return {
    ...ids,
    deployment: DEFAULT_DEPLOYMENT,
    api,
    urls,
    identityHeader: ctx.identityHeader,
    caCertPath,
    azBinDir,
    principals,
    appSettings: ({ credential = 'managedidentity', userAssigned = false } = {}) => {
      const settings: Record<string, string> = {
        AZURE_OPENAI_ENDPOINT: urls.openai,
        AZURE_OPENAI_DEPLOYMENT: DEFAULT_DEPLOYMENT,
        AZURE_OPENAI_API_VERSION: API_VERSION,
        AZURE_OPENAI_ALLOWED_DEPLOYMENTS: chatDeploymentNames().join(','),
        AZURE_SUBSCRIPTION_ID: ids.subscriptionId,
        AZURE_RESOURCE_GROUP: ids.resourceGroup,
        AZURE_OPENAI_ACCOUNT_NAME: ids.accountName,
        AZURE_LOCATION: ids.location,
        AZURE_TENANT_ID: ids.tenantId,
        AZURE_CREDENTIAL: credential,
        AZURE_ARM_ENDPOINT: urls.arm,
        AUTH_MODE: 'entra',
        AUTH_TENANT_ID: ids.tenantId,
        AUTH_CLIENT_ID: api.clientId,
        AUTH_APP_ID_URI: api.applicationIdUri,
        AUTH_AUTHORITY_HOST: urls.authorityHost,
        AUTH_REQUIRED_SCOPE: api.scope,
        NODE_EXTRA_CA_CERTS: caCertPath,
      };
      if (credential === 'managedidentity') {
        settings.IDENTITY_ENDPOINT = urls.identity;
        settings.IDENTITY_HEADER = ctx.identityHeader;
        if (userAssigned) settings.AZURE_CLIENT_ID = principals.userAssigned.clientId;
      } else {
        settings.PATH = [azBinDir, process.env.PATH].filter(Boolean).join(path.delimiter);
      }
      return settings;
    },
    mintCallerToken,
    admin,
    close: () => {
      closed ??= (async () => {
        closing.abort();
        await Promise.all([closeServer(httpServer), closeServer(armServer)]);
        if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
