import * as z from 'zod';
import { deploymentNamePattern } from '../config';
import { ApiError } from '../errors';
import {
  buildMessageSchema,
  toAzureMessage,
  UnsupportedMessageField,
  type MessageLimits,
} from './chatMessages';
import { chatSurfaceOf, isAccepted, refusalReason, type AcceptedParameter } from './chatParameters';

/**
 * The chat request the gateway accepts and the body it sends on: every message shape the official clients
 * produce comes in (chatMessages.ts says what each role may carry and what goes on), every parameter the
 * `openai` package knows has one decision (chatParameters.ts), and what leaves is what Azure's schema for the
 * configured API version accepts. Objects are strict, so an unknown field is a 400 naming it.
 */

export interface ChatRequestOptions extends MessageLimits {
  maxMessages: number;
  maxChoices: number;
  maxTokens: number;
  /** AZURE_OPENAI_API_VERSION: decides which of Azure's request schemas applies. */
  apiVersion: string;
}

const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);
/** Enumerations Azure validates itself travel as short strings, so a value Azure adds is not refused here. */
const azureEnum = () => z.string().regex(/^[a-z0-9_-]{1,32}$/, 'must be a short lowercase word');

export function buildChatRequestSchema(options: ChatRequestOptions) {
  const surface = chatSurfaceOf(options.apiVersion);
  const content = text(options.maxMessageChars);
  const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');
  const message = buildMessageSchema(options);
  const jsonObject = z.record(z.string(), z.unknown());
  const functionDefinition = z.strictObject({
    name,
    description: z.string().max(4096).optional(),
    parameters: jsonObject.optional(),
    strict: z.boolean().nullable().optional(),
  });

  const fields = {
    model: z.string().regex(deploymentNamePattern, 'must be a deployment name').optional(),
    messages: z
      .array(message)
      .min(1, 'must contain at least one message')
      .max(options.maxMessages)
      .transform((messages, ctx) => {
        try {
          return messages.map((inbound, index) => toAzureMessage(inbound, index, surface));
        } catch (error) {
          if (!(error instanceof UnsupportedMessageField)) throw error;
          ctx.addIssue({ code: 'custom', message: error.message, path: error.path.slice(1) });
          return z.NEVER;
        }
      }),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    n: z.number().int().min(1).max(options.maxChoices).nullable().optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullable().optional(),
    stop: z
      .union([z.string().max(256), z.array(z.string().max(256)).max(4)])
      .nullable()
      .optional(),
    max_tokens: z.number().int().min(1).max(options.maxTokens).nullable().optional(),
    max_completion_tokens: z.number().int().min(1).max(options.maxTokens).nullable().optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    logit_bias: z
      .record(z.string().regex(/^\d{1,7}$/, 'must be a token id'), z.number().min(-100).max(100))
      .refine((value) => Object.keys(value).length <= 300, 'must have at most 300 entries')
      .nullable()
      .optional(),
    logprobs: z.boolean().nullable().optional(),
    top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
    user: z.string().max(256).optional(),
    safety_identifier: z.string().max(256).nullable().optional(),
    seed: z.number().int().nullable().optional(),
    response_format: z
      .discriminatedUnion('type', [
        z.strictObject({ type: z.literal('text') }),
        z.strictObject({ type: z.literal('json_object') }),
        z.strictObject({
          type: z.literal('json_schema'),
          json_schema: z.strictObject({
            name,
            description: z.string().max(4096).optional(),
            schema: jsonObject.optional(),
            strict: z.boolean().nullable().optional(),
          }),
        }),
      ])
      .optional(),
    tools: z
      .array(z.strictObject({ type: z.literal('function'), function: functionDefinition }))
      .max(128)
      .optional(),
    tool_choice: z
      .union([
        azureEnum(),
        z.strictObject({ type: z.literal('function'), function: z.strictObject({ name }) }),
      ])
      .optional(),
    parallel_tool_calls: z.boolean().optional(),
    functions: z.array(functionDefinition).max(128).optional(),
    function_call: z.union([azureEnum(), z.strictObject({ name })]).optional(),
    reasoning_effort: azureEnum().nullable().optional(),
    verbosity: azureEnum().nullable().optional(),
    modalities: z.array(z.literal('text', 'only text output is offered')).max(1).nullable().optional(),
    store: z.literal(false, 'only false: stored completions are not enabled').nullable().optional(),
    prediction: z
      .strictObject({
        type: z.literal('content'),
        content: z.union([
          content,
          z.array(z.strictObject({ type: z.literal('text'), text: content })).min(1),
        ]),
      })
      .nullable()
      .optional(),
  } satisfies { [K in AcceptedParameter]: z.ZodType };

  // NOTE: a parameter Azure's schema lacks on this surface is left out, so it is an unknown key: a 400 that
  // names it and the API version (refusalReason), and the same verdict in the OpenAPI document.
  const available = Object.fromEntries(
    Object.entries(fields).filter(([key]) => isAccepted(key, surface)),
  ) as typeof fields;

  return z
    .strictObject(available)
    .refine((body) => !(body.stream_options && body.stream !== true), {
      error: 'is only allowed when stream is true',
      path: ['stream_options'],
    })
    .refine(
      (body) =>
        !(
          typeof body.safety_identifier === 'string' &&
          body.user !== undefined &&
          body.user !== body.safety_identifier
        ),
      { error: 'differs from user; Azure has one field for both', path: ['safety_identifier'] },
    )
    .transform(({ safety_identifier, ...body }) =>
      typeof safety_identifier === 'string' && body.user === undefined
        ? { ...body, user: safety_identifier }
        : body,
    );
}

export type ChatRequest = z.output<ReturnType<typeof buildChatRequestSchema>>;

const pathToParam = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((param, key) => {
    if (typeof key === 'number') return `${param}[${key}]`;
    return param ? `${param}.${String(key)}` : String(key);
  }, '');

function issueToError(issue: z.core.$ZodIssue, apiVersion: string): ApiError {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const param = pathToParam([...issue.path, key]);
    const reason = issue.path.length === 0 ? refusalReason(key, apiVersion) : undefined;
    return new ApiError(
      400,
      'invalid_request',
      reason ?? `Unrecognized request argument supplied: ${param}`,
      { param },
    );
  }
  const param = pathToParam(issue.path);
  return new ApiError(400, 'invalid_request', `Invalid value for '${param || 'body'}': ${issue.message}`, {
    param: param || null,
  });
}

/** Returns a parser bound to the configured limits; it throws an ApiError for the first problem found. */
export function makeChatRequestParser(options: ChatRequestOptions): (body: unknown) => ChatRequest {
  const schema = buildChatRequestSchema(options);
  return (body) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ApiError(400, 'invalid_request', 'The request body must be a JSON object.');
    }
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    const first = parsed.error.issues[0];
    throw first
      ? issueToError(first, options.apiVersion)
      : new ApiError(400, 'invalid_request', 'The request body is invalid.');
  };
}
