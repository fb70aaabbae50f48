import * as z from 'zod';
import type { ChatSurface } from './chatParameters';

/**
 * What each message role may carry in, and what of it goes on to Azure. Clients echo assistant messages back
 * as they received them (openai-node's `messages.push(reply.choices[0].message)`, its `parse` and tool-runner
 * helpers, LangChain's tool messages), with output-only fields that Azure's request schema does not allow:
 * Azure answers those with "Additional properties are not allowed" (openai/openai-node#1161). The gateway accepts
 * them and forwards each message reduced to the properties Azure's schema has for its role and API surface
 * (Azure/azure-rest-api-specs: inference 2024-10-21, 2025-04-01-preview and OpenAI.v1).
 *
 * - forward: sent as received;
 * - drop: output-only or a client's bookkeeping, never meaning for the model, so not sent;
 * - surface: sent where Azure's schema has it, changed or refused elsewhere (the note says how).
 */
export type FieldRule = { rule: 'forward' | 'drop' | 'surface'; note: string };

export const messageFields = {
  system: {
    role: { rule: 'forward', note: '' },
    content: { rule: 'forward', note: 'a string or text parts' },
    name: { rule: 'forward', note: '' },
  },
  developer: {
    role: {
      rule: 'surface',
      note: 'sent as `system` on a dated GA api-version (2024-10-21 has no developer role), as `developer` elsewhere',
    },
    content: { rule: 'forward', note: 'a string or text parts' },
    name: { rule: 'forward', note: '' },
  },
  user: {
    role: { rule: 'forward', note: '' },
    content: { rule: 'forward', note: 'a string or text and image_url parts' },
    name: { rule: 'forward', note: '' },
  },
  assistant: {
    role: { rule: 'forward', note: '' },
    content: { rule: 'forward', note: 'a string, text or refusal parts, or null with tool_calls' },
    refusal: { rule: 'forward', note: 'a string is sent; null is dropped' },
    name: { rule: 'forward', note: '' },
    tool_calls: {
      rule: 'forward',
      note: 'each reduced to id, type, function.name, function.arguments (`index` and `parsed_arguments` dropped); an empty list is dropped',
    },
    function_call: { rule: 'forward', note: 'null is dropped' },
    audio: {
      rule: 'surface',
      note: 'null is dropped; `{id}` is sent on v1, refused on dated versions (their schema has no assistant audio)',
    },
    annotations: { rule: 'drop', note: 'output-only (url citations)' },
    parsed: { rule: 'drop', note: 'added by openai-node’s parse helpers' },
    reasoning_content: { rule: 'drop', note: 'output-only (Azure v1 response extension)' },
    context: { rule: 'drop', note: 'output-only (Azure “on your data” citations)' },
  },
  tool: {
    role: { rule: 'forward', note: '' },
    content: { rule: 'forward', note: 'a string or text parts' },
    tool_call_id: { rule: 'forward', note: '' },
    name: { rule: 'drop', note: 'added by LangChain; tool_call_id already links the result to its call' },
  },
  function: {
    role: { rule: 'forward', note: '' },
    content: { rule: 'forward', note: 'deprecated role' },
    name: { rule: 'forward', note: '' },
  },
} as const satisfies Record<string, Record<string, FieldRule>>;

/** Content-part properties that are not sent: OpenAI's prompt-cache hint, which Azure's part schemas lack. */
export const droppedPartFields = ['prompt_cache_breakpoint'] as const;

export interface MessageLimits {
  maxMessageChars: number;
}

const nameSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');

/** The inbound message schemas (strict: anything not in `messageFields` is a 400 naming it). */
export function buildMessageSchema({ maxMessageChars }: MessageLimits) {
  const content = z.string().max(maxMessageChars, `must be at most ${maxMessageChars} characters`);
  const cacheHint = { prompt_cache_breakpoint: z.record(z.string(), z.unknown()).optional() };
  const textPart = z.strictObject({ type: z.literal('text'), text: content, ...cacheHint });
  const imagePart = z.strictObject({
    type: z.literal('image_url'),
    image_url: z.strictObject({
      url: z
        .string()
        .max(maxMessageChars)
        .regex(/^(https:|data:image\/)/, 'must be an https or data:image URL'),
      // NOTE: a string, not an enum: Azure validates detail itself and adds values.
      detail: z.string().max(32).optional(),
    }),
    ...cacheHint,
  });
  const refusalPart = z.strictObject({ type: z.literal('refusal'), refusal: content });
  const textContent = z.union([content, z.array(textPart).min(1)]);
  const toolCall = z.strictObject({
    id: z.string().min(1).max(256),
    type: z.literal('function'),
    function: z.strictObject({
      name: z.string().min(1).max(64),
      arguments: content,
      parsed_arguments: z.unknown().optional(),
    }),
    index: z.number().int().optional(),
  });

  return z.discriminatedUnion('role', [
    z.strictObject({ role: z.literal('system'), content: textContent, name: nameSchema.optional() }),
    z.strictObject({ role: z.literal('developer'), content: textContent, name: nameSchema.optional() }),
    z.strictObject({
      role: z.literal('user'),
      content: z.union([
        content,
        z
          .array(z.discriminatedUnion('type', [textPart, imagePart]))
          .min(1)
          .max(64),
      ]),
      name: nameSchema.optional(),
    }),
    z.strictObject({
      role: z.literal('assistant'),
      content: z
        .union([content, z.array(z.discriminatedUnion('type', [textPart, refusalPart])), z.null()])
        .optional(),
      refusal: content.nullable().optional(),
      name: nameSchema.optional(),
      tool_calls: z.array(toolCall).max(128).optional(),
      function_call: z
        .strictObject({ name: z.string().min(1).max(64), arguments: content })
        .nullable()
        .optional(),
      audio: z
        .looseObject({ id: z.string().min(1).max(256) })
        .nullable()
        .optional(),
      annotations: z.array(z.unknown()).optional(),
      parsed: z.unknown().optional(),
      reasoning_content: z.string().nullable().optional(),
      context: z.record(z.string(), z.unknown()).nullable().optional(),
    }),
    z.strictObject({
      role: z.literal('tool'),
      content: textContent,
      tool_call_id: z.string().min(1).max(256),
      name: z.string().max(256).optional(),
    }),
    z.strictObject({ role: z.literal('function'), content: content.nullable(), name: nameSchema }),
  ]);
}

export type InboundMessage = z.output<ReturnType<typeof buildMessageSchema>>;

type TextPart = { type: 'text'; text: string };
type ImagePart = { type: 'image_url'; image_url: { url: string; detail?: string | undefined } };
type RefusalPart = { type: 'refusal'; refusal: string };

/** A message as Azure's schema accepts it. */
export type OutboundMessage =
  | { role: 'system' | 'developer'; content: string | TextPart[]; name?: string }
  | { role: 'user'; content: string | (TextPart | ImagePart)[]; name?: string }
  | {
      role: 'assistant';
      content?: string | (TextPart | RefusalPart)[] | null;
      refusal?: string;
      name?: string;
      tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
      function_call?: { name: string; arguments: string };
      audio?: { id: string };
    }
  | { role: 'tool'; content: string | TextPart[]; tool_call_id: string }
  | { role: 'function'; content: string | null; name: string };

/** Raised for a message Azure's schema on this surface cannot carry; the caller maps it to a 400. */
export class UnsupportedMessageField extends Error {
  constructor(
    readonly path: (string | number)[],
    message: string,
  ) {
    super(message);
    this.name = 'UnsupportedMessageField';
  }
}

function parts<T extends { type: string }>(content: string | T[]): string | T[] {
  if (typeof content === 'string') return content;
  return content.map((part) => {
    const { prompt_cache_breakpoint: _hint, ...kept } = part as T & { prompt_cache_breakpoint?: unknown };
    return kept as T;
  });
}

const withName = (name: string | undefined) => (name === undefined ? {} : { name });

/** One inbound message → the message Azure accepts for its role on this surface (see `messageFields`). */
export function toAzureMessage(
  message: InboundMessage,
  index: number,
  surface: ChatSurface,
): OutboundMessage {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: parts(message.content), ...withName(message.name) };
    case 'developer':
      return {
        role: surface === 'ga' ? 'system' : 'developer',
        content: parts(message.content),
        ...withName(message.name),
      };
    case 'user':
      return { role: 'user', content: parts(message.content), ...withName(message.name) };
    case 'assistant': {
      if (message.audio && surface !== 'v1') {
        throw new UnsupportedMessageField(
          ['messages', index, 'audio'],
          'Assistant audio references need Azure OpenAI API v1; the dated API version this gateway calls has none.',
        );
      }
      const content =
        message.content === undefined || message.content === null ? message.content : parts(message.content);
      return {
        role: 'assistant',
        ...(content === undefined ? {} : { content }),
        ...(typeof message.refusal === 'string' ? { refusal: message.refusal } : {}),
        ...withName(message.name),
        ...(message.tool_calls && message.tool_calls.length > 0
          ? {
              tool_calls: message.tool_calls.map((call) => ({
                id: call.id,
                type: call.type,
                function: { name: call.function.name, arguments: call.function.arguments },
              })),
            }
          : {}),
        ...(message.function_call ? { function_call: message.function_call } : {}),
        ...(message.audio ? { audio: { id: message.audio.id } } : {}),
      };
    }
    case 'tool':
      return { role: 'tool', content: parts(message.content), tool_call_id: message.tool_call_id };
    case 'function':
      return { role: 'function', content: message.content, name: message.name };
  }
}
