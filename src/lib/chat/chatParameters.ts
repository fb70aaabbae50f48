import type { ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';

/**
 * The Azure OpenAI request surface the gateway talks to, which decides what Azure's schema accepts
 * (Azure/azure-rest-api-specs): `ga` = a dated GA api-version such as 2024-10-21, `preview` = a dated
 * `-preview` api-version, `v1` = the `/openai/v1` API.
 */
export type ChatSurface = 'ga' | 'preview' | 'v1';

export function chatSurfaceOf(apiVersion: string): ChatSurface {
  if (apiVersion === 'v1' || apiVersion === 'preview' || apiVersion === 'latest') return 'v1';
  return apiVersion.endsWith('-preview') ? 'preview' : 'ga';
}

export const ALL_SURFACES: readonly ChatSurface[] = ['ga', 'preview', 'v1'];
const NEWER_SURFACES: readonly ChatSurface[] = ['preview', 'v1'];

/**
 * - forward: sent to Azure as given (types and sizes checked; enumerations Azure validates are passed as strings);
 * - limit: sent to Azure after a gateway limit is checked;
 * - gateway: the gateway acts on it itself (and may send Azure something derived from it);
 * - refuse: a 400 naming the parameter, with the reason in the message.
 * `surfaces` lists where Azure's schema has the parameter; elsewhere it is refused, naming the API version.
 */
export type ParameterDecision =
  | { decision: 'forward'; surfaces: readonly ChatSurface[]; note: string }
  | { decision: 'limit'; surfaces: readonly ChatSurface[]; note: string }
  | { decision: 'gateway'; surfaces: readonly ChatSurface[]; note: string }
  | { decision: 'refuse'; reason: string };

type OpenAIChatParameter = keyof ChatCompletionCreateParamsBase;

/**
 * One decision for every chat parameter the `openai` package knows. Typed against its
 * ChatCompletionCreateParams keys: when an upgrade adds a key, this object stops type-checking until the key is
 * decided here (and in the README table, which a test compares with this one).
 */
export const chatParameters = {
  messages: {
    decision: 'limit',
    surfaces: ALL_SURFACES,
    note: 'MAX_MESSAGES messages of at most MAX_MESSAGE_CHARS characters; each reduced to what Azure accepts for its role (see the message table)',
  },
  model: {
    decision: 'gateway',
    surfaces: ALL_SURFACES,
    note: 'must name a deployment in AZURE_OPENAI_ALLOWED_DEPLOYMENTS; default AZURE_OPENAI_DEPLOYMENT',
  },
  audio: {
    decision: 'refuse',
    reason: 'audio output is not offered by this gateway; ask for text',
  },
  frequency_penalty: { decision: 'forward', surfaces: ALL_SURFACES, note: '-2 to 2' },
  function_call: {
    decision: 'forward',
    surfaces: ALL_SURFACES,
    note: 'deprecated by OpenAI, still in Azure’s schema',
  },
  functions: { decision: 'limit', surfaces: ALL_SURFACES, note: 'at most 128; deprecated' },
  logit_bias: { decision: 'limit', surfaces: ALL_SURFACES, note: 'at most 300 entries, -100 to 100' },
  logprobs: { decision: 'forward', surfaces: ALL_SURFACES, note: '' },
  max_completion_tokens: {
    decision: 'gateway',
    surfaces: ALL_SURFACES,
    note: 'at most LIMIT_MAX_TOKENS; charged against the caller’s token budget',
  },
  max_tokens: {
    decision: 'gateway',
    surfaces: ALL_SURFACES,
    note: 'at most LIMIT_MAX_TOKENS; charged against the caller’s token budget; reasoning models refuse it (Azure’s 400)',
  },
  metadata: {
    decision: 'refuse',
    reason: 'metadata only labels stored completions, which this gateway does not enable',
  },
  modalities: {
    decision: 'limit',
    surfaces: NEWER_SURFACES,
    note: 'only ["text"]: audio output is not offered',
  },
  moderation: {
    decision: 'refuse',
    reason:
      'moderation is an OpenAI platform option; Azure OpenAI applies its own content filter to every request',
  },
  n: { decision: 'limit', surfaces: ALL_SURFACES, note: 'at most MAX_CHOICES' },
  parallel_tool_calls: { decision: 'forward', surfaces: ALL_SURFACES, note: '' },
  prediction: {
    decision: 'limit',
    surfaces: NEWER_SURFACES,
    note: 'predicted output content of at most MAX_MESSAGE_CHARS characters',
  },
  presence_penalty: { decision: 'forward', surfaces: ALL_SURFACES, note: '-2 to 2' },
  prompt_cache_key: {
    decision: 'refuse',
    reason:
      'prompt_cache_key is an OpenAI platform option that Azure OpenAI does not accept; Azure caches prompts without it',
  },
  prompt_cache_options: {
    decision: 'refuse',
    reason: 'prompt_cache_options is an OpenAI platform option that Azure OpenAI does not accept',
  },
  prompt_cache_retention: {
    decision: 'refuse',
    reason: 'prompt_cache_retention is an OpenAI platform option that Azure OpenAI does not accept',
  },
  reasoning_effort: {
    decision: 'forward',
    surfaces: NEWER_SURFACES,
    note: 'passed as a string (Azure validates the value per model: none, minimal, low, medium, high, xhigh…)',
  },
  response_format: {
    decision: 'forward',
    surfaces: ALL_SURFACES,
    note: 'text, json_object or json_schema (strict); Azure checks the schema',
  },
  safety_identifier: {
    decision: 'gateway',
    surfaces: ALL_SURFACES,
    note: 'sent to Azure as `user`, the field Azure has for the same purpose (refused when both are set and differ)',
  },
  seed: { decision: 'forward', surfaces: ALL_SURFACES, note: '' },
  service_tier: {
    decision: 'refuse',
    reason:
      'the service tier of Azure OpenAI is the deployment type chosen when deploying, not a request option',
  },
  stop: { decision: 'limit', surfaces: ALL_SURFACES, note: 'at most 4 sequences of 256 characters' },
  store: {
    decision: 'limit',
    surfaces: NEWER_SURFACES,
    note: 'only false: stored completions would keep callers’ conversations in the Azure resource',
  },
  stream: { decision: 'gateway', surfaces: ALL_SURFACES, note: 'the gateway relays the event stream' },
  stream_options: {
    decision: 'gateway',
    surfaces: ALL_SURFACES,
    note: 'only with stream: true; include_usage is set by the gateway so it can count tokens',
  },
  temperature: {
    decision: 'forward',
    surfaces: ALL_SURFACES,
    note: '0 to 2; reasoning models refuse values other than 1 (Azure’s 400)',
  },
  tool_choice: {
    decision: 'forward',
    surfaces: ALL_SURFACES,
    note: 'a mode string (Azure validates it) or a named function',
  },
  tools: {
    decision: 'limit',
    surfaces: ALL_SURFACES,
    note: 'at most 128 function tools (Azure has no custom tools)',
  },
  top_logprobs: { decision: 'forward', surfaces: ALL_SURFACES, note: '0 to 20' },
  top_p: { decision: 'forward', surfaces: ALL_SURFACES, note: '0 to 1' },
  user: { decision: 'limit', surfaces: ALL_SURFACES, note: 'at most 256 characters' },
  verbosity: {
    decision: 'forward',
    surfaces: ['v1'],
    note: 'passed as a string for gpt-5 family models (Azure validates it)',
  },
  web_search_options: {
    decision: 'refuse',
    reason: 'web search is not available in Azure OpenAI chat completions',
  },
} as const satisfies Record<OpenAIChatParameter, ParameterDecision>;

/** Azure-only request properties that openai's types do not have, and why the gateway refuses them. */
export const azureOnlyParameters = {
  data_sources: 'it would make Azure OpenAI read other data with the gateway’s identity',
  dataSources: 'it would make Azure OpenAI read other data with the gateway’s identity',
  user_security_context:
    'it would let a caller speak for the application in Microsoft Defender for Cloud alerts',
} as const;

export type ChatParameter = keyof typeof chatParameters;

/** The parameters a caller may send on this surface. */
export type AcceptedParameter = {
  [K in ChatParameter]: (typeof chatParameters)[K] extends { decision: 'refuse' } ? never : K;
}[ChatParameter];

export function isAccepted(name: string, surface: ChatSurface): boolean {
  if (!Object.hasOwn(chatParameters, name)) return false;
  const entry: ParameterDecision = chatParameters[name as ChatParameter];
  return entry.decision !== 'refuse' && entry.surfaces.includes(surface);
}

/** Why an unknown or refused top-level property is a 400, in words a caller can act on. */
export function refusalReason(name: string, apiVersion: string): string | undefined {
  if (Object.hasOwn(azureOnlyParameters, name)) {
    return `${name} is not accepted: ${azureOnlyParameters[name as keyof typeof azureOnlyParameters]}`;
  }
  if (!Object.hasOwn(chatParameters, name)) return undefined;
  const entry: ParameterDecision = chatParameters[name as ChatParameter];
  if (entry.decision === 'refuse') return `${name} is not accepted: ${entry.reason}`;
  return `${name} is not accepted: Azure OpenAI API version ${apiVersion}, which this gateway calls, does not have it`;
}
