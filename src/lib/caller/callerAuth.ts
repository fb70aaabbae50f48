import { createHash } from 'node:crypto';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Config } from '../config';
import { ApiError } from '../errors';

/**
 * Who is calling. Browser callers present a Microsoft Entra access token for the gateway's own API; the
 * same validation runs locally (against the emulator's tenant) and in Azure.
 */
export interface Caller {
  /** Stable key for per-caller limits. */
  key: string;
  /** Short hash of the caller's identity: enough to correlate log lines, useless to identify anyone. */
  hash: string;
  objectId: string | undefined;
  tenantId: string | undefined;
  anonymous: boolean;
}

export type Authenticate = (headers: Headers) => Promise<Caller>;

const CLOCK_SKEW_SECONDS = 60;
/** Verified tokens remembered per process; a browser sends the same token with every request for an hour. */
const VERIFIED_TOKENS_MAX = 1_000;
const MAX_AUTHORIZATION_LENGTH = 16_384;
const CLIENT_PRINCIPAL = 'x-ms-client-principal';
const OID_CLAIM = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const TID_CLAIM = 'http://schemas.microsoft.com/identity/claims/tenantid';

export const hashIdentity = (value: string): string =>
  createHash('sha256').update(value).digest('hex').slice(0, 12);

const unauthorized = (message: string, withError = true): ApiError =>
  new ApiError(401, 'invalid_token', message, {
    headers: {
      'www-authenticate': withError
        ? `Bearer error="invalid_token", error_description="${message.replaceAll('"', "'")}"`
        : 'Bearer',
    },
  });

const identified = (objectId: string, tenantId: string | undefined): Caller => {
  const key = `${tenantId ?? ''}/${objectId}`;
  return { key, hash: hashIdentity(key), objectId, tenantId, anonymous: false };
};

function anonymousCaller(headers: Headers): Caller {
  // NOTE: in anonymous mode the client address is the only key limits can use.
  const address =
    headers.get('x-forwarded-for')?.split(',')[0]?.trim() ?? headers.get('x-client-ip') ?? 'unknown';
  const key = `anonymous/${address}`;
  return { key, hash: hashIdentity(key), objectId: undefined, tenantId: undefined, anonymous: true };
}

/** App Service Authentication's header; only trusted when the platform says the feature is on. */
function fromClientPrincipal(encoded: string): Caller {
  let claims: { typ?: unknown; val?: unknown }[] = [];
  try {
    const parsed = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as { claims?: unknown };
    if (Array.isArray(parsed.claims)) claims = parsed.claims as typeof claims;
  } catch {
    throw unauthorized('The client principal header is malformed.');
  }
  const claim = (type: string) => {
    const value = claims.find((entry) => entry.typ === type || entry.typ === type.split('/').pop())?.val;
    return typeof value === 'string' ? value : undefined;
  };
  const objectId = claim(OID_CLAIM) ?? claim('oid');
  if (!objectId) throw unauthorized('The client principal carries no object id.');
  return identified(objectId, claim(TID_CLAIM) ?? claim('tid'));
}

const scopesOf = (payload: JWTPayload): string[] =>
  typeof payload.scp === 'string' ? payload.scp.split(' ') : [];
const rolesOf = (payload: JWTPayload): unknown[] => (Array.isArray(payload.roles) ? payload.roles : []);

/**
 * App-only (client-credentials) tokens carry no `scp`; `idtyp: "app"` says so explicitly where the API
 * registration turns that optional claim on (Entra access-token claims reference).
 */
const isAppOnly = (payload: JWTPayload): boolean => payload.idtyp === 'app' || payload.scp === undefined;

const forbidden = (
  code: 'insufficient_scope' | 'missing_role' | 'app_only_token',
  message: string,
  challenge?: string,
): ApiError =>
  new ApiError(403, code, message, challenge ? { headers: { 'www-authenticate': challenge } } : {});

function describeFailure(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token has expired.';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'The access token is not valid yet.';
    if (error.claim === 'aud') return 'The access token is not for this API (audience).';
    if (error.claim === 'iss') return 'The access token was not issued by the expected tenant.';
    return `The access token's ${error.claim} claim is invalid.`;
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'The access token is signed with an unknown key.';
  if (error instanceof joseErrors.JOSEAlgNotAllowed)
    return 'The access token uses a signing algorithm that is not accepted.';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'The access token signature is invalid.';
  if (
    error instanceof joseErrors.JWKSTimeout ||
    (error instanceof joseErrors.JOSEError && error.code === 'ERR_JWKS_INVALID')
  ) {
    return 'The signing keys of the tenant could not be loaded.';
  }
  return 'The access token is invalid.';
}

export interface CallerAuthOptions {
  /** Replaces the remote JWKS (tests). */
  keys?: JWTVerifyGetKey;
}

export function createAuthenticator(
  auth: Config['auth'],
  appServiceAuthEnabled: boolean,
  options: CallerAuthOptions = {},
): Authenticate {
  const trustPlatform = auth.trustAppServiceAuth && appServiceAuthEnabled;
  if (auth.mode === 'anonymous') {
    return (headers) => Promise.resolve(anonymousCaller(headers));
  }
  const tenantId = auth.tenantId ?? '';
  const keys =
    options.keys ??
    createRemoteJWKSet(new URL(`${auth.authorityHost}/${tenantId}/discovery/v2.0/keys`), {
      timeoutDuration: 5_000,
      cooldownDuration: 30_000,
      cacheMaxAge: 24 * 60 * 60 * 1000,
    });
  const issuers = [`${auth.authorityHost}/${tenantId}/v2.0`, `https://sts.windows.net/${tenantId}/`];
  // NOTE: v2 tokens always name the API by its client id; v1 tokens by the application id URI the client asked
  // for (or the client id when it asked for that). Both belong to the one API registration configured.
  const audiences = [auth.clientId, auth.applicationIdUri].filter((value): value is string => Boolean(value));
  // NOTE: a signature check costs more than the rest of a request's own work, so a token that passed it is
  // remembered until it expires (the expiry is checked again on every use; failures are never remembered).
  const verified = new Map<string, JWTPayload & { exp: number }>();
  const verify = async (token: string): Promise<JWTPayload> => {
    const known = verified.get(token);
    if (known && known.exp > Math.floor(Date.now() / 1000) - CLOCK_SKEW_SECONDS) return known;
    verified.delete(token);
    const { payload } = await jwtVerify(token, keys, {
      algorithms: ['RS256'],
      issuer: issuers,
      audience: audiences,
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'iss', 'aud'],
    });
    if (typeof payload.exp === 'number') {
      if (verified.size >= VERIFIED_TOKENS_MAX) verified.delete(verified.keys().next().value ?? '');
      verified.set(token, { ...payload, exp: payload.exp });
    }
    return payload;
  };

  return async (headers) => {
    const principal = headers.get(CLIENT_PRINCIPAL);
    if (trustPlatform && principal) return fromClientPrincipal(principal);

    const authorization = headers.get('authorization');
    if (!authorization) throw unauthorized('Sign in: send Authorization: Bearer <access token>.', false);
    // NOTE: Entra access tokens are a few kilobytes; anything far larger is refused before any parsing.
    if (authorization.length > MAX_AUTHORIZATION_LENGTH)
      throw unauthorized('The Authorization header is too large.');
    const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(authorization.trim());
    if (!match?.[1]) throw unauthorized('The Authorization header must be "Bearer <access token>".');

    let payload: JWTPayload;
    try {
      payload = await verify(match[1]);
    } catch (error) {
      throw unauthorized(describeFailure(error));
    }
    if (payload.tid !== tenantId)
      throw unauthorized('The access token was not issued by the expected tenant.');
    const objectId = typeof payload.oid === 'string' ? payload.oid : payload.sub;
    if (!objectId) throw unauthorized('The access token carries no object id.');

    // NOTE: any app in the tenant can get an app-only token for an API that has a service principal, so such a
    // token is let in only when an app role is required and the token holds it (an admin granted it).
    if (isAppOnly(payload)) {
      if (!auth.requiredRole) {
        throw forbidden(
          'app_only_token',
          'App-only tokens are not accepted: sign a user in, or require an app role (AUTH_REQUIRED_ROLE) and grant it to the app.',
        );
      }
    } else if (!scopesOf(payload).includes(auth.requiredScope)) {
      throw forbidden(
        'insufficient_scope',
        `The access token lacks the required scope "${auth.requiredScope}".`,
        `Bearer error="insufficient_scope", scope="${auth.requiredScope}"`,
      );
    }
    if (auth.requiredRole && !rolesOf(payload).includes(auth.requiredRole)) {
      throw forbidden('missing_role', `The caller lacks the required app role "${auth.requiredRole}".`);
    }
    return identified(objectId, tenantId);
  };
}
