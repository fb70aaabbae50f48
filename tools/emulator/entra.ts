import { randomBytes, randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { InvalidInputError, isRecord, type RequestHandler, sendJson } from './http-util';

/** Who a service token is issued to: one of the emulator's identities. */
export interface TokenSubject {
  objectId: string;
  /** The application (client) id: the managed identity's client id, or the Azure CLI's app id for a user. */
  appId: string;
  kind: 'app' | 'user';
  /** A user's sign-in name, used by ARM in its error messages. */
  upn?: string;
  /** A managed identity's ARM resource id (the `xms_mirid` claim). */
  resourceId?: string;
}

export interface CallerTokenOptions {
  /** Merged into the default claims; a claim set to undefined is removed. */
  claims?: Record<string, unknown>;
  /** Lifetime from now; negative makes an already expired token. Default 3600. */
  expiresInSeconds?: number;
  /** Offset of `nbf` from now; positive makes a token that is not valid yet. Default 0. */
  notBeforeSeconds?: number;
  /** 'foreign' signs with a key the tenant's JWKS does not publish (same kid, so only the signature betrays it). */
  signWith?: 'tenant' | 'foreign';
  /** Merged into the protected header (for example a different `kid` or `typ`). */
  header?: Record<string, unknown>;
  /**
   * The token version, as the API's manifest (`requestedAccessTokenVersion`) would choose it; the client has no
   * say. Default: the emulated API registration's own, 2.
   */
  version?: 1 | 2;
  /**
   * An app-only (client-credentials) token of the daemon app instead of a signed-in user's: no `scp`,
   * `idtyp: 'app'`, the daemon's service principal as `oid`/`sub`, and `roles` only when given in `claims`.
   */
  appOnly?: boolean;
}

/**
 * The API app registration callers request tokens for, as docs/deployment.md creates it: a client id, the
 * application id URI `api://{clientId}`, one delegated scope and `requestedAccessTokenVersion: 2`.
 */
export interface ApiRegistration {
  /** Application (client) id: the `aud` of every v2 token. */
  clientId: string;
  /** Application id URI: the `aud` of v1 tokens requested for `{uri}/.default` or `{uri}/{scope}`. */
  applicationIdUri: string;
  /** The delegated scope a signed-in user's token carries in `scp`. */
  scope: string;
  accessTokenVersion: 1 | 2;
}

/** Who calls the API: a signed-in user through the browser app, or a daemon app on its own. */
export interface CallerPrincipals {
  /** The signed-in user (`oid`) and the browser app's client id (`azp`/`appid`). */
  user: { objectId: string; clientId: string };
  /** A daemon app's client id (`azp`/`appid`) and its service principal's object id (`oid`, `sub`). */
  daemon: { objectId: string; clientId: string };
}

export type TokenCheck =
  | { ok: true; claims: JWTPayload; objectId: string }
  | {
      ok: false;
      reason:
        'malformed' | 'signature' | 'expired' | 'not-yet-valid' | 'issuer' | 'audience' | 'no-object-id';
    };

interface SigningKey {
  privateKey: CryptoKey;
  kid: string;
}

const TOKEN_LIFETIME_SECONDS = 3600;

/**
 * The emulator's Microsoft Entra tenant: one RS256 signing key, its OpenID metadata, and the tokens it issues
 * (service tokens for the app's identities, caller tokens for the gateway's own API).
 */
export class Entra {
  /**
   * Lifetime of service tokens (managed identity, `az`). Entra's default for access tokens is 60–90 minutes
   * (Microsoft identity platform, "Configurable token lifetimes"); managed identity tokens last longer. Tests
   * shorten it to see tokens expire and get refreshed within a run.
   */
  serviceTokenLifetimeSeconds = TOKEN_LIFETIME_SECONDS;
  private foreignKey: Promise<SigningKey> | undefined;

  private constructor(
    readonly tenantId: string,
    private readonly authorityHost: string,
    readonly api: ApiRegistration,
    private readonly callers: CallerPrincipals,
    private readonly signing: SigningKey,
    private readonly publicKey: CryptoKey,
    private readonly publicJwk: JWK,
  ) {}

  static async create(
    tenantId: string,
    authorityHost: string,
    api: ApiRegistration,
    callers: CallerPrincipals,
  ): Promise<Entra> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    return new Entra(tenantId, authorityHost, api, callers, { privateKey, kid }, publicKey, {
      ...publicJwk,
      kid,
      use: 'sig',
    });
  }

  get kid(): string {
    return this.signing.kid;
  }

  get v1Issuer(): string {
    return `https://sts.windows.net/${this.tenantId}/`;
  }

  get v2Issuer(): string {
    return `${this.authorityHost}/${this.tenantId}/v2.0`;
  }

  jwks(version: 'v1' | 'v2'): { keys: JWK[] } {
    return { keys: [{ ...this.publicJwk, issuer: version === 'v1' ? this.v1Issuer : this.v2Issuer } as JWK] };
  }

  openIdConfiguration(version: 'v1' | 'v2'): Record<string, unknown> {
    const tenantBase = `${this.authorityHost}/${this.tenantId}`;
    const v2 = version === 'v2';
    return {
      token_endpoint: `${tenantBase}/oauth2${v2 ? '/v2.0' : ''}/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${tenantBase}/discovery${v2 ? '/v2.0' : ''}/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'token id_token', 'token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: v2 ? this.v2Issuer : this.v1Issuer,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${tenantBase}/oauth2${v2 ? '/v2.0' : ''}/authorize`,
      end_session_endpoint: `${tenantBase}/oauth2${v2 ? '/v2.0' : ''}/logout`,
      claims_supported: [
        'sub',
        'iss',
        'aud',
        'exp',
        'iat',
        'nbf',
        'name',
        'oid',
        'tid',
        'ver',
        'azp',
        'scp',
        'roles',
      ],
      tenant_region_scope: 'NA',
      cloud_instance_name: 'microsoftonline.com',
    };
  }

  /** A v1 access token as Entra issues to a managed identity or to the Azure CLI. */
  async issueServiceToken(
    subject: TokenSubject,
    resource: string,
  ): Promise<{ token: string; expiresOn: number }> {
    const now = Math.floor(Date.now() / 1000);
    const expiresOn = now + this.serviceTokenLifetimeSeconds;
    const claims: JWTPayload = {
      aud: resource,
      iss: this.v1Issuer,
      iat: now,
      nbf: now,
      exp: expiresOn,
      appid: subject.appId,
      appidacr: subject.kind === 'app' ? '2' : '0',
      idp: this.v1Issuer,
      idtyp: subject.kind,
      oid: subject.objectId,
      sub: subject.objectId,
      tid: this.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '1.0',
      ...(subject.kind === 'user'
        ? {
            scp: 'user_impersonation',
            upn: subject.upn,
            unique_name: subject.upn,
            name: 'Emulated Developer',
          }
        : {}),
      ...(subject.resourceId ? { xms_mirid: subject.resourceId } : {}),
    };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.signing.kid })
      .sign(this.signing.privateKey);
    return { token, expiresOn };
  }

  /**
   * An access token for the gateway's own API, with the claims Entra puts in it (access-token claims
   * reference, learn.microsoft.com/entra/identity-platform/access-token-claims-reference):
   * - v2: `aud` is always the API's client id (GUID), `iss` `{authority}/{tid}/v2.0`, the client in
   *   `azp`/`azpacr`, the user's name in `preferred_username`;
   * - v1: `aud` is the application id URI the client asked for, `iss` `https://sts.windows.net/{tid}/`, the
   *   client in `appid`/`appidacr`, the user's name in `upn`/`unique_name`;
   * - delegated tokens carry `scp`; app-only tokens carry no `scp`, `roles` only when an app role was
   *   granted, and `idtyp: 'app'` (the optional claim the API registration turns on).
   */
  async mintCallerToken(options: CallerTokenOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const v1 = (options.version ?? this.api.accessTokenVersion) === 1;
    const issuer = v1 ? this.v1Issuer : this.v2Issuer;
    const client = options.appOnly ? this.callers.daemon : this.callers.user;
    // NOTE: appidacr/azpacr: 0 for a public client (the browser app), 1 for a client secret (the daemon).
    const clientAuth = options.appOnly ? '1' : '0';
    const claims: Record<string, unknown> = {
      aud: v1 ? this.api.applicationIdUri : this.api.clientId,
      iss: issuer,
      iat: now,
      nbf: now + (options.notBeforeSeconds ?? 0),
      exp: now + (options.expiresInSeconds ?? TOKEN_LIFETIME_SECONDS),
      ...(v1
        ? { appid: client.clientId, appidacr: clientAuth }
        : { azp: client.clientId, azpacr: clientAuth }),
      ...(v1 ? { idp: issuer } : {}),
      tid: this.tenantId,
      uti: randomUUID(),
      ver: v1 ? '1.0' : '2.0',
      ...(options.appOnly
        ? { idtyp: 'app', oid: client.objectId, sub: client.objectId }
        : {
            oid: client.objectId,
            // NOTE: a user's sub is pairwise (per application), unlike oid.
            sub: 'emulated-caller-pairwise-subject',
            name: 'Emulated Caller',
            scp: this.api.scope,
            ...(v1
              ? { upn: 'caller@emulator.example', unique_name: 'caller@emulator.example' }
              : { preferred_username: 'caller@emulator.example' }),
          }),
    };
    for (const [name, value] of Object.entries(options.claims ?? {})) {
      if (value === undefined) Reflect.deleteProperty(claims, name);
      else claims[name] = value;
    }
    const key = options.signWith === 'foreign' ? await this.foreignSigningKey() : this.signing;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...options.header })
      .sign(key.privateKey);
  }

  /** Validates a bearer token the way Azure's front doors do: our signature, our tenant, one of the audiences, in date. */
  async verify(token: string, audiences: readonly string[]): Promise<TokenCheck> {
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, this.publicKey, { algorithms: ['RS256'] }));
    } catch (error) {
      return { ok: false, reason: joseFailure(error) };
    }
    if (claims.iss !== this.v1Issuer && claims.iss !== this.v2Issuer) return { ok: false, reason: 'issuer' };
    const tokenAudiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).map((aud) =>
      trimSlash(aud ?? ''),
    );
    if (!audiences.some((aud) => tokenAudiences.includes(trimSlash(aud))))
      return { ok: false, reason: 'audience' };
    const objectId = claims.oid;
    if (typeof objectId !== 'string' || objectId === '') return { ok: false, reason: 'no-object-id' };
    return { ok: true, claims, objectId };
  }

  private foreignSigningKey(): Promise<SigningKey> {
    this.foreignKey ??= generateKeyPair('RS256').then(({ privateKey }) => ({
      privateKey,
      kid: this.signing.kid,
    }));
    return this.foreignKey;
  }
}

/**
 * Checks caller-token options that arrived as JSON. JSON has no undefined, so there a claim set to null is
 * removed.
 */
export function parseCallerTokenOptions(value: unknown): CallerTokenOptions {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new InvalidInputError('caller token options must be an object');
  const options: CallerTokenOptions = {};
  const { claims, expiresInSeconds, notBeforeSeconds, signWith, header, version, appOnly } = value;
  if (claims !== undefined) {
    if (!isRecord(claims)) throw new InvalidInputError('claims must be an object');
    options.claims = Object.fromEntries(
      Object.entries(claims).map(([name, claim]) => [name, claim ?? undefined]),
    );
  }
  if (expiresInSeconds !== undefined) {
    if (typeof expiresInSeconds !== 'number')
      throw new InvalidInputError('expiresInSeconds must be a number');
    options.expiresInSeconds = expiresInSeconds;
  }
  if (notBeforeSeconds !== undefined) {
    if (typeof notBeforeSeconds !== 'number')
      throw new InvalidInputError('notBeforeSeconds must be a number');
    options.notBeforeSeconds = notBeforeSeconds;
  }
  if (signWith !== undefined) {
    if (signWith !== 'tenant' && signWith !== 'foreign')
      throw new InvalidInputError('signWith must be tenant or foreign');
    options.signWith = signWith;
  }
  if (header !== undefined) {
    if (!isRecord(header)) throw new InvalidInputError('header must be an object');
    options.header = header;
  }
  if (version !== undefined) {
    if (version !== 1 && version !== 2) throw new InvalidInputError('version must be 1 or 2');
    options.version = version;
  }
  if (appOnly !== undefined) {
    if (typeof appOnly !== 'boolean') throw new InvalidInputError('appOnly must be a boolean');
    options.appOnly = appOnly;
  }
  return options;
}

const OIDC_PATH = /^\/([^/]+)\/(v2\.0\/)?\.well-known\/openid-configuration$/;
const KEYS_PATH = /^\/([^/]+)\/discovery\/(v2\.0\/)?keys$/;

export function isEntraPath(pathname: string): boolean {
  return OIDC_PATH.test(pathname) || KEYS_PATH.test(pathname);
}

/**
 * The tenant's public metadata, as login.microsoftonline.com serves it: OpenID configuration and signing keys,
 * v1 and v2. CORS is open because browsers fetch these.
 */
export function createEntraEndpoint(entra: Entra): RequestHandler {
  return (req, res, url) => {
    const cors = { 'access-control-allow-origin': '*' };
    const oidc = OIDC_PATH.exec(url.pathname);
    const keys = KEYS_PATH.exec(url.pathname);
    const match = oidc ?? keys;
    const tenant = match?.[1];
    if (req.method !== 'GET' || tenant === undefined) {
      sendJson(res, 404, { error: 'not_found', error_description: 'Not found.' }, cors);
    } else if (tenant.toLowerCase() !== entra.tenantId) {
      sendJson(
        res,
        400,
        {
          error: 'invalid_tenant',
          error_description: `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
        },
        cors,
      );
    } else {
      const version = match?.[2] === undefined ? 'v1' : 'v2';
      sendJson(res, 200, oidc ? entra.openIdConfiguration(version) : entra.jwks(version), cors);
    }
    return Promise.resolve();
  };
}

function trimSlash(value: string): string {
  return value.replace(/\/+$/, '');
}

function joseFailure(error: unknown): Exclude<TokenCheck, { ok: true }>['reason'] {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (code === 'ERR_JWT_EXPIRED') return 'expired';
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'signature';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return 'not-yet-valid';
  return 'malformed';
}
