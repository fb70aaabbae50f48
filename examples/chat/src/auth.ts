import { fetchJson, parseDevSession, type PageConfig } from './config';

/**
 * Where the page's bearer token comes from. MSAL is loaded only in `msal` mode, so development mode stays
 * small and works offline.
 */
export interface TokenSource {
  /** The API base URL to call. */
  readonly apiBaseUrl: string;
  /** Who is signed in, for the header; undefined when nobody is. */
  account(): string | undefined;
  /** Interactive sign-in (a popup); a no-op in development mode. */
  signIn(): Promise<void>;
  signOut(): Promise<void>;
  /** A token for the API, renewed silently when possible. */
  token(): Promise<string>;
  readonly interactive: boolean;
}

export async function createTokenSource(config: PageConfig): Promise<TokenSource> {
  if (config.auth.mode === 'msal') {
    const { createMsalTokenSource } = await import('./msal');
    return createMsalTokenSource(config.auth, config.apiBaseUrl ?? '');
  }
  const session = parseDevSession(await fetchJson('dev.json', 'the development token'));
  const apiBaseUrl = config.apiBaseUrl ?? session.apiBaseUrl;
  return {
    apiBaseUrl,
    interactive: false,
    account: () => 'development token',
    signIn: () => Promise.resolve(),
    signOut: () => Promise.resolve(),
    token: () => Promise.resolve(session.callerToken),
  };
}
