import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { TokenSubject } from './entra';
import { isKnownResource, unknownResourceMessage, type EmulatorContext } from './emulator-context';
import { statusFaultResponse } from './faults';
import { header, sendJson, type RequestHandler } from './http-util';

export const IDENTITY_PATH = '/msi/token';
const API_VERSION = '2019-08-01';

/** App Service answers errors as `{statusCode, message, correlationId}` (MSAL reads `message`). */
function sendIdentityError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { statusCode: status, message, correlationId: randomUUID() });
}

/**
 * The App Service / Functions managed identity endpoint (IDENTITY_ENDPOINT, protocol 2019-08-01):
 * `GET ?api-version=2019-08-01&resource=…[&client_id=…|&mi_res_id=…|&object_id=…]` with `x-identity-header`.
 */
export function createIdentityEndpoint(ctx: EmulatorContext): RequestHandler {
  const { systemAssigned, userAssigned } = ctx.principals;

  function selectIdentity(query: URLSearchParams): TokenSubject | undefined {
    const clientId = query.get('client_id');
    const resourceId = query.get('mi_res_id');
    const objectId = query.get('object_id') ?? query.get('principal_id');
    const userAssignedSubject: TokenSubject = {
      objectId: userAssigned.objectId,
      appId: userAssigned.clientId,
      kind: 'app',
      resourceId: userAssigned.resourceId,
    };
    if (clientId !== null)
      return clientId.toLowerCase() === userAssigned.clientId ? userAssignedSubject : undefined;
    if (resourceId !== null) {
      return resourceId.toLowerCase() === userAssigned.resourceId.toLowerCase()
        ? userAssignedSubject
        : undefined;
    }
    if (objectId !== null)
      return objectId.toLowerCase() === userAssigned.objectId ? userAssignedSubject : undefined;
    return { objectId: systemAssigned.objectId, appId: systemAssigned.clientId, kind: 'app' };
  }

  return async (req, res, url) => {
    ctx.stats.identityCalls += 1;
    const fault = ctx.faults.takeStatus('identity');
    if (fault) {
      const { body, headers } = statusFaultResponse(fault);
      sendJson(res, fault.status, body, headers);
      return;
    }
    if (req.method !== 'GET') {
      sendIdentityError(res, 405, 'The requested resource does not support this HTTP method.');
      return;
    }
    if (header(req, 'x-identity-header') !== ctx.identityHeader) {
      sendIdentityError(
        res,
        401,
        'The X-IDENTITY-HEADER header is missing or does not match the value of IDENTITY_HEADER.',
      );
      return;
    }
    const query = url.searchParams;
    if (query.get('api-version') !== API_VERSION) {
      sendIdentityError(res, 400, `The api-version parameter is missing or unsupported; use ${API_VERSION}.`);
      return;
    }
    const resource = query.get('resource');
    if (!resource) {
      sendIdentityError(res, 400, 'The resource parameter is required.');
      return;
    }
    const subject = selectIdentity(query);
    if (!subject) {
      sendIdentityError(res, 400, 'Unable to load the proper Managed Identity.');
      return;
    }
    if (!isKnownResource(resource)) {
      sendIdentityError(res, 400, unknownResourceMessage(resource, ctx.ids.tenantId));
      return;
    }
    const { token, expiresOn } = await ctx.serviceTokens.issue(subject, resource);
    sendJson(res, 200, {
      access_token: token,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
      client_id: subject.appId,
    });
  };
}
