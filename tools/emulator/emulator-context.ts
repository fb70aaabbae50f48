import type { Entra, TokenSubject } from './entra';
import type { FaultStore } from './faults';
import type { RateLimits } from './rate-limits';
import type { RequestLog } from './request-log';
import type { RoleStore } from './roles';

export interface EmulatorUrls {
  /** The http server: identity endpoint, Entra authority, Azure OpenAI data plane, admin. */
  base: string;
  /** Azure OpenAI endpoint (the same origin as base). */
  openai: string;
  /** ARM over https. */
  arm: string;
  /** App Service managed identity endpoint (IDENTITY_ENDPOINT). */
  identity: string;
  /** Entra authority host: `${authorityHost}/${tenantId}/v2.0` is the caller tokens' issuer. */
  authorityHost: string;
  admin: string;
}

export interface EmulatorPrincipals {
  systemAssigned: { objectId: string; clientId: string };
  userAssigned: { clientId: string; objectId: string; resourceId: string };
  /** The user the `az` command is logged in as. */
  developer: { objectId: string; upn: string };
  /** The signed-in user of the browser app, as named in caller tokens: user object id and the app's client id. */
  caller: { objectId: string; clientId: string };
  /** A daemon app holding app-only (client-credentials) tokens for the API: its service principal and client id. */
  daemon: { objectId: string; clientId: string };
}

export interface EmulatorStats {
  identityCalls: number;
  azCalls: number;
  armCalls: number;
  chatCalls: number;
}

export interface EmulatorIds {
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  accountName: string;
  location: string;
}

/** Everything the request handlers share. */
export interface EmulatorContext {
  ids: EmulatorIds;
  principals: EmulatorPrincipals;
  identityHeader: string;
  urls: EmulatorUrls;
  entra: Entra;
  roles: RoleStore;
  faults: FaultStore;
  rateLimits: RateLimits;
  stats: EmulatorStats;
  /** Every Azure OpenAI request served, with how it ended (see request-log.ts). */
  requests: RequestLog;
  az: { loggedIn: boolean };
  /** Fires when the emulator closes, so waits and stalled streams end at once. */
  closing: AbortSignal;
}

/** The Azure CLI's well-known application id: the `appid` of every token `az` hands out. */
export const AZURE_CLI_APP_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

export function accountScopeId(ids: EmulatorIds): string {
  return `/subscriptions/${ids.subscriptionId}/resourceGroups/${ids.resourceGroup}/providers/Microsoft.CognitiveServices/accounts/${ids.accountName}`;
}

export function subscriptionScopeId(ids: EmulatorIds): string {
  return `/subscriptions/${ids.subscriptionId}`;
}

export function developerSubject(principals: EmulatorPrincipals): TokenSubject {
  return {
    objectId: principals.developer.objectId,
    appId: AZURE_CLI_APP_ID,
    kind: 'user',
    upn: principals.developer.upn,
  };
}

export function emptyStats(): EmulatorStats {
  return { identityCalls: 0, azCalls: 0, armCalls: 0, chatCalls: 0 };
}

/** Resources Entra knows in the emulated tenant; a token for anything else is refused like AADSTS500011. */
const knownResources = [
  'https://cognitiveservices.azure.com',
  'https://ai.azure.com',
  'https://management.azure.com',
  'https://management.core.windows.net',
];

export function isKnownResource(resource: string): boolean {
  return knownResources.includes(resource.replace(/\/+$/, ''));
}

export function unknownResourceMessage(resource: string, tenantId: string): string {
  return `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`;
}
