import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { decodeJwt } from 'jose';
import {
  catalogModelOf,
  catalogRegions,
  deployments,
  findDeployment,
  modelCatalog,
  type Deployment,
} from './catalog';
import { accountScopeId, subscriptionScopeId, type EmulatorContext } from './emulator-context';
import { statusFaultResponse } from './faults';
import { bearerToken, isRecord, newRequestId, sendJson, type RequestHandler } from './http-util';
import type { RoleScope } from './roles';

const ARM_AUDIENCES = ['https://management.azure.com', 'https://management.core.windows.net'];
const PROVIDER = 'Microsoft.CognitiveServices';

/**
 * What ARM lists as supported in a NoRegisteredProviderFound answer. The versions are released
 * Microsoft.CognitiveServices versions (2025-09-01 is @azure/arm-cognitiveservices 8.1.0's default); the
 * emulator itself accepts any version.
 */
const CATALOG_API_VERSIONS = ['2023-05-01', '2024-10-01', '2025-06-01', '2025-09-01'];

/**
 * ARM's answer for a location the resource type is not registered in: 400 NoRegisteredProviderFound, with the
 * supported versions and locations. Sources: Microsoft Learn "Resolve errors for resource provider registration"
 * (the code and message, and that an unsupported location is one cause), the Data Factory troubleshooting
 * article's capture (`HTTP/1.1 400 Bad Request` with this code), and a capture of the full message with its
 * supported lists for `automationAccounts/jobs`. ARM compares region names without case or spaces (guess from
 * `az` accepting "West Europe"); where ARM checks this relative to RBAC is a guess: after it, like existence.
 */
function unknownLocationMessage(location: string, apiVersion: string): string {
  return `No registered resource provider found for location '${location}' and API version '${apiVersion}' for type 'locations/models'. The supported api-versions are '${CATALOG_API_VERSIONS.join(', ')}'. The supported locations are '${catalogRegions.join(', ')}'.`;
}

const knownRegion = (location: string): boolean =>
  catalogRegions.includes(location.replace(/\s+/g, '').toLowerCase());

/** ARM resource paths; ARM matches the fixed segments case-insensitively. */
const LOCATION_MODELS =
  /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.CognitiveServices\/locations\/([^/]+)\/models\/?$/i;
const ACCOUNT =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.CognitiveServices\/accounts\/([^/]+)(\/deployments(?:\/([^/]+))?|\/models)?\/?$/i;

type ArmRoute =
  | { kind: 'locationModels'; subscription: string; location: string }
  | {
      kind: 'account' | 'deployments' | 'accountModels';
      subscription: string;
      resourceGroup: string;
      account: string;
    }
  | { kind: 'deployment'; subscription: string; resourceGroup: string; account: string; deployment: string };

type Authentication =
  | { ok: true; objectId: string; name: string }
  | { ok: false; code: string; message: string; description: string };

function decodeSegment(segment: string | undefined): string {
  try {
    return decodeURIComponent(segment ?? '');
  } catch {
    return segment ?? '';
  }
}

function matchRoute(pathname: string): ArmRoute | undefined {
  const location = LOCATION_MODELS.exec(pathname);
  if (location)
    return {
      kind: 'locationModels',
      subscription: decodeSegment(location[1]),
      location: decodeSegment(location[2]),
    };
  const account = ACCOUNT.exec(pathname);
  if (!account) return undefined;
  const base = {
    subscription: decodeSegment(account[1]),
    resourceGroup: decodeSegment(account[2]),
    account: decodeSegment(account[3]),
  };
  const child = account[4]?.toLowerCase();
  if (child === undefined) return { kind: 'account', ...base };
  if (child === '/models') return { kind: 'accountModels', ...base };
  if (account[5] !== undefined) return { kind: 'deployment', ...base, deployment: decodeSegment(account[5]) };
  return { kind: 'deployments', ...base };
}

function requiredAction(route: ArmRoute): string {
  switch (route.kind) {
    case 'locationModels':
      return `${PROVIDER}/locations/models/read`;
    case 'account':
      return `${PROVIDER}/accounts/read`;
    case 'deployments':
    case 'deployment':
      return `${PROVIDER}/accounts/deployments/read`;
    case 'accountModels':
      return `${PROVIDER}/accounts/models/read`;
  }
}

function encodeSkipToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodeSkipToken(token: string | null): number | undefined {
  if (token === null) return 0;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    const offset = isRecord(parsed) ? parsed.o : undefined;
    return typeof offset === 'number' && Number.isInteger(offset) && offset >= 0 ? offset : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Azure Resource Manager for the Cognitive Services provider: the account, its deployments and models, and the
 * region catalog. Checks run in ARM's order: api-version, token, subscription, RBAC, then existence (so a
 * caller without access learns nothing about what exists).
 */
export function createArm(ctx: EmulatorContext, pageSize: number): RequestHandler {
  const accountScope = accountScopeId(ctx.ids);

  function deploymentResource(deployment: Deployment): Record<string, unknown> {
    const model = catalogModelOf(deployment);
    const limit = ctx.rateLimits.limitFor(deployment.name);
    return {
      id: `${accountScope}/deployments/${deployment.name}`,
      type: `${PROVIDER}/accounts/deployments`,
      name: deployment.name,
      sku: { name: deployment.sku.name, capacity: deployment.sku.capacity },
      properties: {
        model: { format: model.format, name: model.name, version: model.version },
        versionUpgradeOption: 'OnceNewDefaultVersionAvailable',
        currentCapacity: deployment.sku.capacity,
        capabilities: model.capabilities,
        provisioningState: 'Succeeded',
        raiPolicyName: 'Microsoft.DefaultV2',
        rateLimits: [
          { key: 'request', renewalPeriod: 10, count: limit.requestsPer10Seconds },
          { key: 'token', renewalPeriod: 60, count: limit.tokensPerMinute },
        ],
      },
      systemData: {
        createdBy: ctx.principals.developer.upn,
        createdByType: 'User',
        createdAt: deployment.createdAt,
        lastModifiedBy: ctx.principals.developer.upn,
        lastModifiedByType: 'User',
        lastModifiedAt: deployment.createdAt,
      },
      etag: `"${Buffer.from(`${deployment.name}@${model.version}`).toString('hex').slice(0, 32)}"`,
    };
  }

  function accountResource(): Record<string, unknown> {
    return {
      id: accountScope,
      name: ctx.ids.accountName,
      type: `${PROVIDER}/accounts`,
      location: ctx.ids.location,
      kind: 'OpenAI',
      sku: { name: 'S0' },
      properties: {
        endpoint: `${ctx.urls.openai}/`,
        customSubDomainName: ctx.ids.accountName,
        provisioningState: 'Succeeded',
        disableLocalAuth: true,
        publicNetworkAccess: 'Enabled',
      },
    };
  }

  return async (req, res, url) => {
    ctx.stats.armCalls += 1;
    const requestId = newRequestId();
    const baseHeaders: OutgoingHttpHeaders = {
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id': req.headers['x-ms-correlation-request-id'] ?? requestId,
      'cache-control': 'no-cache',
    };
    const reply = (status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void => {
      sendJson(res, status, body, { ...baseHeaders, ...headers });
    };
    const armError = (
      status: number,
      code: string,
      message: string,
      headers: OutgoingHttpHeaders = {},
    ): void => {
      reply(status, { error: { code, message } }, headers);
    };

    const fault = ctx.faults.takeStatus('arm');
    if (fault) {
      const { body, headers } = statusFaultResponse(fault);
      reply(fault.status, body, headers);
      return;
    }
    const apiVersion = url.searchParams.get('api-version');
    if (!apiVersion) {
      armError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
      return;
    }
    const route = matchRoute(url.pathname);
    if (!route) {
      armError(
        404,
        'InvalidResourceType',
        `The resource type could not be found for the path '${url.pathname}' in the emulated ARM.`,
      );
      return;
    }
    if (req.method !== 'GET') {
      armError(
        405,
        'MethodNotAllowed',
        `The emulated ARM serves GET only; ${req.method ?? 'this method'} is not supported.`,
      );
      return;
    }
    const principal = await authenticate(req);
    if (!principal.ok) {
      armError(401, principal.code, principal.message, {
        'www-authenticate': `Bearer authorization_uri="https://login.windows.net/${ctx.ids.tenantId}", error="invalid_token", error_description="${principal.description}"`,
      });
      return;
    }
    if (route.subscription.toLowerCase() !== ctx.ids.subscriptionId) {
      armError(404, 'SubscriptionNotFound', `The subscription '${route.subscription}' could not be found.`);
      return;
    }
    const isOurAccount =
      route.kind !== 'locationModels' &&
      route.resourceGroup.toLowerCase() === ctx.ids.resourceGroup.toLowerCase() &&
      route.account.toLowerCase() === ctx.ids.accountName.toLowerCase();
    const target: RoleScope = isOurAccount ? 'account' : 'subscription';
    const action = requiredAction(route);
    if (!ctx.roles.isAllowed(principal.objectId, { kind: 'action', operation: action, target })) {
      const scope = url.pathname.replace(/\/(models|deployments)\/?$/i, '').replace(/\/$/, '');
      armError(
        403,
        'AuthorizationFailed',
        `The client '${principal.name}' with object id '${principal.objectId}' does not have authorization to perform action '${action}' over scope '${route.kind === 'locationModels' ? subscriptionScopeId(ctx.ids) : scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      );
      return;
    }
    if (route.kind === 'locationModels') {
      if (!knownRegion(route.location)) {
        armError(400, 'NoRegisteredProviderFound', unknownLocationMessage(route.location, apiVersion));
        return;
      }
      page(
        modelCatalog.map((model) => ({ kind: 'OpenAI', skuName: 'S0', model })),
        url,
        apiVersion,
      );
      return;
    }
    if (route.resourceGroup.toLowerCase() !== ctx.ids.resourceGroup.toLowerCase()) {
      armError(404, 'ResourceGroupNotFound', `Resource group '${route.resourceGroup}' could not be found.`);
      return;
    }
    if (!isOurAccount) {
      armError(
        404,
        'ResourceNotFound',
        `The Resource '${PROVIDER}/accounts/${route.account}' under resource group '${route.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      );
      return;
    }
    switch (route.kind) {
      case 'account':
        reply(200, accountResource());
        return;
      case 'accountModels':
        page(modelCatalog, url, apiVersion);
        return;
      case 'deployments':
        page(deployments.map(deploymentResource), url, apiVersion);
        return;
      case 'deployment': {
        const deployment = findDeployment(route.deployment);
        if (!deployment) {
          armError(
            404,
            'ResourceNotFound',
            `The Resource '${PROVIDER}/accounts/${ctx.ids.accountName}/deployments/${route.deployment}' under resource group '${ctx.ids.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
          );
          return;
        }
        reply(200, deploymentResource(deployment));
        return;
      }
    }

    function page(items: readonly unknown[], pageUrl: URL, version: string): void {
      const offset = decodeSkipToken(pageUrl.searchParams.get('$skipToken'));
      if (offset === undefined) {
        armError(400, 'InvalidSkipToken', 'The $skipToken is not valid.');
        return;
      }
      const next = offset + pageSize;
      const nextLink =
        next < items.length
          ? `${ctx.urls.arm}${pageUrl.pathname}?api-version=${encodeURIComponent(version)}&$skipToken=${encodeSkipToken(next)}`
          : undefined;
      reply(200, { value: items.slice(offset, next), ...(nextLink ? { nextLink } : {}) });
    }
  };

  /** The caller as ARM names it in errors (users by sign-in name, applications by object id), or why not. */
  async function authenticate(req: IncomingMessage): Promise<Authentication> {
    const token = bearerToken(req);
    if (token === undefined) {
      return {
        ok: false,
        code: 'AuthenticationFailed',
        message: "Authentication failed. The 'Authorization' header is missing.",
        description: "The authentication failed because of missing 'Authorization' header.",
      };
    }
    const check = await ctx.entra.verify(token, ARM_AUDIENCES);
    if (check.ok) {
      const upn = check.claims.upn;
      return { ok: true, objectId: check.objectId, name: typeof upn === 'string' ? upn : check.objectId };
    }
    const claims = safeDecode(token);
    if (check.reason === 'expired') {
      const expiry = typeof claims?.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : 'unknown';
      return {
        ok: false,
        code: 'ExpiredAuthenticationToken',
        message: `The access token expiry UTC time '${expiry}' is earlier than current UTC time '${new Date().toISOString()}'.`,
        description: 'The access token has expired.',
      };
    }
    if (check.reason === 'audience') {
      return {
        ok: false,
        code: 'InvalidAuthenticationToken',
        message: `The access token has been obtained for wrong audience or resource '${String(claims?.aud)}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.`,
        description: 'The access token has the wrong audience.',
      };
    }
    return {
      ok: false,
      code: 'InvalidAuthenticationToken',
      message: 'The access token is invalid.',
      description: 'The access token is invalid.',
    };
  }
}

function safeDecode(token: string): ReturnType<typeof decodeJwt> | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}
