import {
  createStandardPublicClientApplication,
  InteractionRequiredAuthError,
  type AccountInfo,
} from '@azure/msal-browser';
import type { TokenSource } from './auth';
import type { MsalSettings } from './config';

/**
 * Sign-in with Microsoft Entra ID through MSAL.js: a popup to sign in, then silent renewal of the access
 * token for the API's scope. MSAL v5 sends the popup's answer back through `redirect.html`, the redirect
 * bridge, which must be registered as the SPA's redirect URI.
 */
export async function createMsalTokenSource(
  settings: MsalSettings,
  apiBaseUrl: string,
): Promise<TokenSource> {
  const msal = await createStandardPublicClientApplication({
    auth: {
      clientId: settings.clientId,
      authority: settings.authority,
      redirectUri: new URL('redirect.html', window.location.href).href,
    },
    // NOTE: sessionStorage keeps tokens out of other tabs and ends them with the tab.
    cache: { cacheLocation: 'sessionStorage' },
  });
  const scopes = [settings.scope];
  let account: AccountInfo | null = msal.getActiveAccount() ?? msal.getAllAccounts()[0] ?? null;

  return {
    apiBaseUrl,
    interactive: true,
    account: () => account?.username ?? account?.name ?? undefined,
    async signIn() {
      const result = await msal.loginPopup({ scopes });
      account = result.account;
      msal.setActiveAccount(account);
    },
    async signOut() {
      const leaving = account;
      account = null;
      await msal.logoutPopup(leaving ? { account: leaving } : {});
    },
    async token() {
      if (!account) throw new InteractionRequiredAuthError('no_account', 'Sign in first.');
      try {
        return (await msal.acquireTokenSilent({ scopes, account })).accessToken;
      } catch (error) {
        if (!(error instanceof InteractionRequiredAuthError)) throw error;
        // NOTE: consent or a new sign-in is needed (expired session, new scope): ask the user once.
        const result = await msal.acquireTokenPopup({ scopes, account });
        account = result.account;
        return result.accessToken;
      }
    },
  };
}
