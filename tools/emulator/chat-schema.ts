import { isRecord } from './http-util';

/**
 * Azure OpenAI's chat request schema, per API surface, as closed property lists: Azure's service rejects a
 * property its schema does not name, where OpenAI's API ignores it.
 *
 * Sources (Azure/azure-rest-api-specs):
 * - `ga`: specification/cognitiveservices/data-plane/AzureOpenAI/inference/stable/2024-10-21/inference.json
 *   (`createChatCompletionRequest`, `chatCompletionRequestMessage*`).
 * - `preview`: …/AzureOpenAI/inference/preview/2025-04-01-preview/inference.yaml.
 * - `v1`: specification/ai/data-plane/OpenAI.v1/azure-v1-v1-generated.yaml (`AzureCreateChatCompletionRequest`).
 *
 * The specs declare no `additionalProperties: false`; the closed lists come from the service's observed
 * behaviour, with its wording:
 * - unknown message property: "Additional properties are not allowed ('parsed', 'refusal' were unexpected) -
 *   'messages.2'", type invalid_request_error, param null, code null (openai/openai-node#1161,
 *   microsoft/azurechat#503, microsoft/semantic-kernel#4261 with the full body);
 * - unknown top-level property: "Unrecognized request argument supplied: max_completion_tokens", param null,
 *   code null (openai/openai-python#1724).
 * The names in the first message are sorted, as Python's jsonschema sorts them (consistent with the captures).
 */

export type ChatSurface = 'ga' | 'preview' | 'v1';

export interface SchemaError {
  message: string;
  param: string | null;
  code: string | null;
}

const GA_TOP_LEVEL = [
  'messages',
  'data_sources',
  'temperature',
  'top_p',
  'stream',
  'stop',
  'max_tokens',
  'max_completion_tokens',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'n',
  'parallel_tool_calls',
  'response_format',
  'seed',
  'tools',
  'tool_choice',
  'function_call',
  'functions',
  'user',
  // NOTE: not in the dated specs, but openai's AzureOpenAI client sends `model` in the body on the dated path
  // too (it only moves the deployment into the URL), and Azure accepts it there.
  'model',
  // NOTE: the GA spec defines chatCompletionStreamOptions without referencing it from the request; a guess
  // that the service accepts it, as the stream usage chunk it documents needs it.
  'stream_options',
];
const PREVIEW_TOP_LEVEL = [
  ...GA_TOP_LEVEL,
  'reasoning_effort',
  'store',
  'metadata',
  'modalities',
  'prediction',
  'audio',
  'user_security_context',
];
const V1_TOP_LEVEL = PREVIEW_TOP_LEVEL;

const topLevel: Record<ChatSurface, ReadonlySet<string>> = {
  ga: new Set(GA_TOP_LEVEL),
  preview: new Set(PREVIEW_TOP_LEVEL),
  v1: new Set(V1_TOP_LEVEL),
};

type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';

const ASSISTANT = ['role', 'content', 'refusal', 'name', 'tool_calls', 'function_call'];
const messageProperties: Record<ChatSurface, Partial<Record<Role, readonly string[]>>> = {
  ga: {
    system: ['role', 'content', 'name'],
    user: ['role', 'content', 'name'],
    assistant: ASSISTANT,
    tool: ['role', 'content', 'tool_call_id'],
    function: ['role', 'content', 'name'],
  },
  preview: {
    system: ['role', 'content', 'name'],
    developer: ['role', 'content', 'name'],
    user: ['role', 'content', 'name'],
    assistant: ASSISTANT,
    tool: ['role', 'content', 'tool_call_id'],
    function: ['role', 'content', 'name'],
  },
  v1: {
    system: ['role', 'content', 'name'],
    developer: ['role', 'content', 'name'],
    user: ['role', 'content', 'name'],
    assistant: [...ASSISTANT, 'audio'],
    tool: ['role', 'content', 'tool_call_id'],
    function: ['role', 'content', 'name'],
  },
};

const userParts: Record<ChatSurface, readonly string[]> = {
  ga: ['text', 'image_url'],
  preview: ['text', 'image_url', 'input_audio'],
  v1: ['text', 'image_url', 'input_audio', 'file'],
};
const partProperties: Record<string, readonly string[]> = {
  text: ['type', 'text'],
  image_url: ['type', 'image_url'],
  input_audio: ['type', 'input_audio'],
  file: ['type', 'file'],
  refusal: ['type', 'refusal'],
};

const schemaError = (message: string, param: string | null = null, code: string | null = null) => ({
  message,
  param,
  code,
});

/** "('a' was unexpected)" or "('a', 'b' were unexpected)", names sorted. */
function unexpected(names: string[]): string {
  const list = [...names]
    .sort()
    .map((name) => `'${name}'`)
    .join(', ');
  return `Additional properties are not allowed (${list} ${names.length === 1 ? 'was' : 'were'} unexpected)`;
}

function extraKeys(value: Record<string, unknown>, allowed: readonly string[]): string[] {
  return Object.keys(value).filter((key) => !allowed.includes(key));
}

function partsError(
  content: unknown,
  allowedTypes: readonly string[],
  path: string,
): SchemaError | undefined {
  if (!Array.isArray(content)) return undefined;
  for (const [index, part] of content.entries()) {
    if (!isRecord(part))
      return schemaError(`${JSON.stringify(part)} is not of type 'object' - '${path}.${index}'`);
    const type = typeof part.type === 'string' ? part.type : '';
    // NOTE: wording modelled on the role error below (jsonschema's enum message); a guess for part types.
    if (!allowedTypes.includes(type)) {
      return schemaError(
        `${JSON.stringify(part.type ?? null)} is not one of ${JSON.stringify(allowedTypes)} - '${path}.${index}.type'`,
      );
    }
    const extra = extraKeys(part, partProperties[type] ?? []);
    if (extra.length > 0) return schemaError(`${unexpected(extra)} - '${path}.${index}'`);
  }
  return undefined;
}

function toolCallsError(toolCalls: unknown, path: string): SchemaError | undefined {
  if (!Array.isArray(toolCalls)) return undefined;
  for (const [index, call] of toolCalls.entries()) {
    if (!isRecord(call)) continue;
    const extra = extraKeys(call, ['id', 'type', 'function']);
    if (extra.length > 0) return schemaError(`${unexpected(extra)} - '${path}.${index}'`);
    if (isRecord(call.function)) {
      const inner = extraKeys(call.function, ['name', 'arguments']);
      if (inner.length > 0) return schemaError(`${unexpected(inner)} - '${path}.${index}.function'`);
    }
  }
  return undefined;
}

/** The first way the body breaks the surface's schema, worded as Azure words it; undefined when it fits. */
export function chatSchemaError(
  body: Record<string, unknown>,
  surface: ChatSurface,
): SchemaError | undefined {
  const unknown = Object.keys(body).find((key) => !topLevel[surface].has(key));
  if (unknown !== undefined) return schemaError(`Unrecognized request argument supplied: ${unknown}`);
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const roles = Object.keys(messageProperties[surface]);
  for (const [index, message] of messages.entries()) {
    const path = `messages.${index}`;
    if (!isRecord(message))
      return schemaError(`${JSON.stringify(message)} is not of type 'object' - '${path}'`);
    const role = message.role;
    const byRole = messageProperties[surface];
    const allowed =
      typeof role === 'string' && Object.hasOwn(byRole, role) ? byRole[role as Role] : undefined;
    if (!allowed) {
      return schemaError(
        `${JSON.stringify(role ?? null)} is not one of ${JSON.stringify(roles)} - '${path}.role'`,
      );
    }
    const extra = extraKeys(message, allowed);
    if (extra.length > 0) return schemaError(`${unexpected(extra)} - '${path}'`);
    const partTypes =
      role === 'user' ? userParts[surface] : role === 'assistant' ? ['text', 'refusal'] : ['text'];
    const parts = partsError(message.content, partTypes, `${path}.content`);
    if (parts) return parts;
    const calls = toolCallsError(message.tool_calls, `${path}.tool_calls`);
    if (calls) return calls;
    if (role === 'assistant' && isRecord(message.audio)) {
      const audio = extraKeys(message.audio, ['id']);
      if (audio.length > 0) return schemaError(`${unexpected(audio)} - '${path}.audio'`);
    }
  }
  return undefined;
}

/** Which schema a route validates against: the v1 path, a dated preview version, or a dated GA version. */
export function surfaceOf(route: { api: 'dated' | 'v1'; apiVersion: string }): ChatSurface {
  if (route.api === 'v1') return 'v1';
  return route.apiVersion.endsWith('-preview') ? 'preview' : 'ga';
}
