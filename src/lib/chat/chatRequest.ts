import * as z from 'zod';
import { deploymentNamePattern, type Config } from '../config';
import { ApiError } from '../errors';

/**
 * The chat request the gateway accepts: Azure OpenAI's chat completions body, minus anything that would act
 * with the gateway's own identity. Every object is strict, so an unknown field is a 400 naming it.
 */

/** Fields Azure accepts that must never be reachable by a browser caller, with the reason given back. */
const forbiddenFields: Record<string, string> = {
  data_sources:
    'data_sources is not accepted: it would make Azure OpenAI read other data with the gateway’s identity',
  dataSources:
    'dataSources is not accepted: it would make Azure OpenAI read other data with the gateway’s identity',
};

const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);

export function buildChatRequestSchema(limits: Config['request'] & { maxTokens: number }) {
  const content = text(limits.maxMessageChars);
  const textPart = z.strictObject({ type: z.literal('text'), text: content });
  const imagePart = z.strictObject({
    type: z.literal('image_url'),
    image_url: z.strictObject({
      url: z
        .string()
        .max(limits.maxMessageChars)
        .regex(/^(https:|data:image\/)/, 'must be an https or data:image URL'),
      detail: z.enum(['auto', 'low', 'high']).optional(),
    }),
  });
  const refusalPart = z.strictObject({ type: z.literal('refusal'), refusal: content });
  const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');
  const toolCall = z.strictObject({
    id: z.string().min(1).max(256),
    type: z.literal('function'),
    function: z.strictObject({ name: z.string().min(1).max(64), arguments: content }),
  });

  const message = z.discriminatedUnion('role', [
    z.strictObject({
      role: z.enum(['system', 'developer']),
      content: z.union([content, z.array(textPart).min(1)]),
      name: name.optional(),
    }),
    z.strictObject({
      role: z.literal('user'),
      content: z.union([
        content,
        z
          .array(z.discriminatedUnion('type', [textPart, imagePart]))
          .min(1)
          .max(64),
      ]),
      name: name.optional(),
    }),
    z.strictObject({
      role: z.literal('assistant'),
      content: z
        .union([content, z.array(z.discriminatedUnion('type', [textPart, refusalPart])), z.null()])
        .optional(),
      refusal: content.nullable().optional(),
      name: name.optional(),
      tool_calls: z.array(toolCall).max(128).optional(),
      function_call: z
        .strictObject({ name: z.string().min(1).max(64), arguments: content })
        .nullable()
        .optional(),
    }),
    z.strictObject({
      role: z.literal('tool'),
      content: z.union([content, z.array(textPart).min(1)]),
      tool_call_id: z.string().min(1).max(256),
    }),
    z.strictObject({ role: z.literal('function'), content: content.nullable(), name }),
  ]);

  const jsonObject = z.record(z.string(), z.unknown());
  const functionDefinition = z.strictObject({
    name,
    description: z.string().max(4096).optional(),
    parameters: jsonObject.optional(),
    strict: z.boolean().nullable().optional(),
  });

  return z
    .strictObject({
      model: z.string().regex(deploymentNamePattern, 'must be a deployment name').optional(),
      messages: z.array(message).min(1, 'must contain at least one message').max(limits.maxMessages),
      temperature: z.number().min(0).max(2).nullable().optional(),
      top_p: z.number().min(0).max(1).nullable().optional(),
      n: z.number().int().min(1).max(limits.maxChoices).nullable().optional(),
      stream: z.boolean().nullable().optional(),
      stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullable().optional(),
      stop: z
        .union([z.string().max(256), z.array(z.string().max(256)).max(4)])
        .nullable()
        .optional(),
      max_tokens: z.number().int().min(1).max(limits.maxTokens).nullable().optional(),
      max_completion_tokens: z.number().int().min(1).max(limits.maxTokens).nullable().optional(),
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
          z.enum(['none', 'auto', 'required']),
          z.strictObject({ type: z.literal('function'), function: z.strictObject({ name }) }),
        ])
        .optional(),
      parallel_tool_calls: z.boolean().optional(),
      functions: z.array(functionDefinition).max(128).optional(),
      function_call: z.union([z.enum(['none', 'auto']), z.strictObject({ name })]).optional(),
      reasoning_effort: z.enum(['minimal', 'low', 'medium', 'high']).optional(),
    })
    .refine((body) => !(body.stream_options && body.stream !== true), {
      error: 'is only allowed when stream is true',
      path: ['stream_options'],
    });
}

export type ChatRequest = z.output<ReturnType<typeof buildChatRequestSchema>>;

const pathToParam = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((param, key) => {
    if (typeof key === 'number') return `${param}[${key}]`;
    return param ? `${param}.${String(key)}` : String(key);
  }, '');

function issueToError(issue: z.core.$ZodIssue): ApiError {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const param = pathToParam([...issue.path, key]);
    const reason = issue.path.length === 0 ? forbiddenFields[key] : undefined;
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
export function makeChatRequestParser(
  limits: Config['request'] & { maxTokens: number },
): (body: unknown) => ChatRequest {
  const schema = buildChatRequestSchema(limits);
  return (body) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ApiError(400, 'invalid_request', 'The request body must be a JSON object.');
    }
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    const first = parsed.error.issues[0];
    throw first ? issueToError(first) : new ApiError(400, 'invalid_request', 'The request body is invalid.');
  };
}
