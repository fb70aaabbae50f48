/**
 * The page's settings, from `config.json` next to index.html. Two ways to get a caller token:
 * - `msal`: sign in with Microsoft Entra ID (a registered SPA) and request the API's scope;
 * - `dev`: take the token `npm run dev` minted, which the development server offers as `dev.json`
 *   on this page's own origin (never a file that is committed or deployed).
 */

export interface MsalSettings {
  mode: 'msal';
  /** The SPA registration's application (client) id. */
  clientId: string;
  /** `https://login.microsoftonline.com/<tenant id>`; built from `tenantId` when absent. */
  authority: string;
  /** The API's delegated scope, e.g. `api://<api client id>/access_as_user`. */
  scope: string;
}

export interface DevSettings {
  mode: 'dev';
}

export interface PageConfig {
  /** The gateway's base URL, ending in `/api`. In dev mode `dev.json` may supply it instead. */
  apiBaseUrl: string | undefined;
  auth: MsalSettings | DevSettings;
}

export interface DevSession {
  apiBaseUrl: string;
  callerToken: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (source: Record<string, unknown>, name: string): string | undefined => {
  const value = source[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
};

class ConfigProblem extends Error {
  override name = 'ConfigProblem';
}

/** Validates `config.json`, naming every missing field at once. */
export function parseConfig(raw: unknown): PageConfig {
  if (!isRecord(raw)) throw new ConfigProblem('config.json must hold a JSON object.');
  const apiBaseUrl = text(raw, 'apiBaseUrl');
  const auth = isRecord(raw.auth) ? raw.auth : {};
  const mode = text(auth, 'mode') ?? 'dev';
  if (mode === 'dev') return { apiBaseUrl, auth: { mode } };
  if (mode !== 'msal') throw new ConfigProblem('config.json: auth.mode must be "msal" or "dev".');

  const clientId = text(auth, 'clientId');
  const tenantId = text(auth, 'tenantId');
  const authority =
    text(auth, 'authority') ?? (tenantId ? `https://login.microsoftonline.com/${tenantId}` : undefined);
  const scope = text(auth, 'scope');
  const missing = [
    apiBaseUrl ? undefined : 'apiBaseUrl',
    clientId ? undefined : 'auth.clientId',
    authority ? undefined : 'auth.tenantId (or auth.authority)',
    scope ? undefined : 'auth.scope',
  ].filter((name) => name !== undefined);
  if (missing.length > 0 || !clientId || !authority || !scope) {
    throw new ConfigProblem(`config.json is missing ${missing.join(', ')}.`);
  }
  return { apiBaseUrl, auth: { mode, clientId, authority, scope } };
}

export function parseDevSession(raw: unknown): DevSession {
  const apiBaseUrl = isRecord(raw) ? text(raw, 'apiBaseUrl') : undefined;
  const callerToken = isRecord(raw) ? text(raw, 'callerToken') : undefined;
  if (!apiBaseUrl || !callerToken) {
    throw new ConfigProblem('dev.json has no apiBaseUrl or callerToken: is `npm run dev` running?');
  }
  return { apiBaseUrl, callerToken };
}

export async function fetchJson(path: string, what: string): Promise<unknown> {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) {
    throw new ConfigProblem(`Could not load ${what} (${path}: HTTP ${response.status}).`);
  }
  return response.json();
}
