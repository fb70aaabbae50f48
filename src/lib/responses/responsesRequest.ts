import type { ResponseCreateParamsBase } from 'openai/resources/responses/responses';
import * as z from 'zod';
import { deploymentNamePattern, type Config } from '../config';
import { ApiError } from '../errors';

/**
 * The Responses request the gateway accepts. Every caller shares the app's identity upstream, so anything
 * stored by Azure (responses, conversations, background runs) would be readable and chainable by every other
 * caller: the gateway is stateless. `store` is sent as false; a caller's `store: true` is refused rather than
 * silently dropped, because a caller who asks to store expects to retrieve or chain later, and cannot.
 */

const STATELESS =
  'this gateway is stateless: every caller shares its Azure identity, so a stored response would be ' +
  'readable by other callers. Send the whole conversation in `input` instead (earlier output items ' +
  'included); for reasoning models add `include: ["reasoning.encrypted_content"]` and send the returned ' +
  'reasoning items back';

const NOT_OFFERED = 'is not offered through this gateway';

/** Tool types a client runs itself: they never act with the app's identity. */
const CLIENT_TOOLS = new Set(['function', 'custom']);

type Decision =
  | { kind: 'accept'; schema: (limits: ResponsesLimits) => z.ZodType }
  | { kind: 'refuse'; reason: string; unless?: unknown };

/**
 * One decision for every key of openai's `ResponseCreateParams`: a new key in the SDK fails the type-check
 * until someone decides about it.
 */
const decisions: { [K in keyof Required<ResponseCreateParamsBase>]: Decision } = {
  access_programs: { kind: 'refuse', reason: `access_programs ${NOT_OFFERED}` },
  background: { kind: 'refuse', unless: false, reason: `background is not accepted: ${STATELESS}` },
  background_options: { kind: 'refuse', reason: `background_options is not accepted: ${STATELESS}` },
  context_management: { kind: 'refuse', reason: `context_management ${NOT_OFFERED}` },
  conversation: { kind: 'refuse', reason: `conversation is not accepted: ${STATELESS}` },
  image: { kind: 'refuse', reason: `image ${NOT_OFFERED}` },
  include: {
    kind: 'accept',
    schema: () =>
      z
        .array(z.enum(['reasoning.encrypted_content', 'message.output_text.logprobs']))
        .max(8)
        .nullable(),
  },
  input: { kind: 'accept', schema: (limits) => inputSchema(limits) },
  instructions: { kind: 'accept', schema: (limits) => text(limits.maxMessageChars).nullable() },
  max_output_tokens: {
    kind: 'accept',
    // NOTE: 16 is the service's own minimum; larger values are capped at LIMIT_MAX_TOKENS, not refused.
    schema: () => z.number().int().min(16, 'must be at least 16').nullable(),
  },
  max_tool_calls: { kind: 'accept', schema: () => z.number().int().min(1).max(128).nullable() },
  metadata: {
    kind: 'accept',
    schema: () =>
      z
        .record(z.string().max(64), z.string().max(512))
        .refine((value) => Object.keys(value).length <= 16, 'must have at most 16 entries')
        .nullable(),
  },
  model: {
    kind: 'accept',
    schema: () => z.string().regex(deploymentNamePattern, 'must be a deployment name'),
  },
  moderation: { kind: 'refuse', reason: `moderation ${NOT_OFFERED}` },
  parallel_tool_calls: { kind: 'accept', schema: () => z.boolean().nullable() },
  previous_response_id: { kind: 'refuse', reason: `previous_response_id is not accepted: ${STATELESS}` },
  prompt: {
    kind: 'refuse',
    reason: 'prompt is not accepted: stored prompt templates belong to the account, not to the caller',
  },
  prompt_cache_key: { kind: 'accept', schema: () => z.string().max(256).nullable() },
  prompt_cache_options: { kind: 'refuse', reason: `prompt_cache_options ${NOT_OFFERED}` },
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the table decides every key the SDK knows, deprecated ones too
  prompt_cache_retention: { kind: 'accept', schema: () => z.enum(['in_memory', '24h']).nullable() },
  reasoning: {
    kind: 'accept',
    schema: () =>
      z
        .strictObject({
          effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullable().optional(),
          summary: z.enum(['auto', 'concise', 'detailed']).nullable().optional(),
          generate_summary: z.enum(['auto', 'concise', 'detailed']).nullable().optional(),
        })
        .nullable(),
  },
  safety_identifier: { kind: 'accept', schema: () => z.string().max(64).nullable() },
  service_tier: { kind: 'refuse', reason: 'service_tier is not accepted: the deployment decides it' },
  store: { kind: 'refuse', unless: false, reason: `store: true is not accepted: ${STATELESS}` },
  stream: { kind: 'accept', schema: () => z.boolean().nullable() },
  stream_options: {
    kind: 'accept',
    schema: () => z.strictObject({ include_obfuscation: z.boolean().optional() }).nullable(),
  },
  temperature: { kind: 'accept', schema: () => z.number().min(0).max(2).nullable() },
  text: { kind: 'accept', schema: () => textConfig },
  tool_choice: { kind: 'accept', schema: () => toolChoice },
  tools: { kind: 'accept', schema: () => z.array(tool).max(128) },
  top_logprobs: { kind: 'accept', schema: () => z.number().int().min(0).max(20).nullable() },
  top_p: { kind: 'accept', schema: () => z.number().min(0).max(1).nullable() },
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the table decides every key the SDK knows, deprecated ones too
  truncation: { kind: 'accept', schema: () => z.enum(['auto', 'disabled']).nullable() },
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the table decides every key the SDK knows, deprecated ones too
  user: { kind: 'accept', schema: () => z.string().max(256) },
};

/** Every request key and what the gateway does with it, for the README and the OpenAPI description. */
export const responsesParameterDecisions = Object.entries(decisions).map(([key, decision]) => ({
  key,
  accepted: decision.kind === 'accept',
  reason: decision.kind === 'refuse' ? decision.reason : undefined,
}));

export interface ResponsesLimits {
  maxMessages: number;
  maxMessageChars: number;
}

const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);
const jsonObject = z.record(z.string(), z.unknown());
const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');

const tool = z.looseObject({ type: z.string().max(64) });

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.strictObject({ type: z.literal('function'), name }),
  z.strictObject({ type: z.literal('custom'), name }),
  z.strictObject({
    type: z.literal('allowed_tools'),
    mode: z.enum(['auto', 'required']),
    tools: z.array(jsonObject).max(128),
  }),
]);

const textConfig = z.strictObject({
  format: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('text') }),
      z.strictObject({ type: z.literal('json_object') }),
      z.strictObject({
        type: z.literal('json_schema'),
        name,
        schema: jsonObject,
        description: z.string().max(4096).optional(),
        strict: z.boolean().nullable().optional(),
      }),
    ])
    .optional(),
  verbosity: z.enum(['low', 'medium', 'high']).nullable().optional(),
});

/**
 * Input items a stateless caller sends: messages, its own function calls and their results, and reasoning
 * items handed back with their encrypted content. `item_reference` names a stored item, so it is refused.
 */
function inputSchema(limits: ResponsesLimits) {
  const content = text(limits.maxMessageChars);
  const inputPart = z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('input_text'), text: content }),
    z.strictObject({
      type: z.literal('input_image'),
      image_url: z
        .string()
        .max(limits.maxMessageChars)
        .regex(/^(https:|data:image\/)/, 'must be an https or data:image URL')
        .optional(),
      detail: z.enum(['auto', 'low', 'high']).optional(),
    }),
  ]);
  const outputPart = z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('output_text'), text: content }),
    z.looseObject({ type: z.literal('refusal'), refusal: content }),
  ]);
  const message = z.strictObject({
    type: z.literal('message').optional(),
    role: z.enum(['user', 'system', 'developer']),
    content: z.union([content, z.array(inputPart).min(1).max(64)]),
  });
  const assistant = z.strictObject({
    type: z.literal('message').optional(),
    id: z.string().max(256).optional(),
    status: z.string().max(32).optional(),
    role: z.literal('assistant'),
    content: z.union([content, z.array(outputPart).max(64)]),
  });
  const functionCall = z.strictObject({
    type: z.literal('function_call'),
    id: z.string().max(256).optional(),
    status: z.string().max(32).optional(),
    call_id: z.string().min(1).max(256),
    name: z.string().min(1).max(64),
    arguments: content,
  });
  const functionOutput = z.strictObject({
    type: z.literal('function_call_output'),
    id: z.string().max(256).optional(),
    status: z.string().max(32).optional(),
    call_id: z.string().min(1).max(256),
    output: z.union([content, z.array(inputPart).max(64)]),
  });
  const reasoning = z.strictObject({
    type: z.literal('reasoning'),
    id: z.string().max(256),
    summary: z.array(z.strictObject({ type: z.literal('summary_text'), text: content })),
    encrypted_content: content.nullable().optional(),
    content: z.array(jsonObject).optional(),
    status: z.string().max(32).optional(),
  });
  const item = z.union([message, assistant, functionCall, functionOutput, reasoning]);
  return z.union([content, z.array(item).min(1).max(limits.maxMessages)]);
}

const pathToParam = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((param, key) => {
    if (typeof key === 'number') return `${param}[${key}]`;
    return param ? `${param}.${String(key)}` : String(key);
  }, '');

/** The validated request, as it goes upstream minus `model` and the forced fields. */
export type ResponsesRequest = Record<string, unknown> & {
  model?: string;
  input?: unknown;
  instructions?: string | null;
  stream?: boolean | null;
  max_output_tokens?: number | null;
  tools?: { type: string }[];
};

const invalid = (message: string, param: string | null) =>
  new ApiError(400, 'invalid_request', message, { param });

function refuseItemReferences(input: unknown): void {
  if (!Array.isArray(input)) return;
  input.forEach((item: unknown, index) => {
    if (typeof item === 'object' && item !== null && (item as { type?: unknown }).type === 'item_reference') {
      throw new ApiError(
        400,
        'parameter_not_accepted',
        `input[${index}] is an item_reference, which is not accepted: ${STATELESS}. (Vercel AI SDK: providerOptions.openai.store = false makes it send the items.)`,
        {
          param: `input[${index}]`,
        },
      );
    }
  });
}

function refuseHostedTools(tools: unknown, allowed: ReadonlySet<string>): void {
  if (!Array.isArray(tools)) return;
  tools.forEach((entry: unknown, index) => {
    const type = (entry as { type?: unknown }).type;
    if (typeof type !== 'string' || CLIENT_TOOLS.has(type) || allowed.has(type)) return;
    throw new ApiError(
      400,
      'tool_not_allowed',
      `tools[${index}] is a hosted "${type}" tool, which would act with the gateway's Azure identity or reach the account's data. Function tools pass; an operator can allow hosted tools by type with RESPONSES_ALLOWED_HOSTED_TOOLS.`,
      { param: `tools[${index}].type` },
    );
  });
}

/** The accepted keys as one strict schema (refused keys are answered before it, with their reasons). */
export function buildResponsesRequestSchema(limits: ResponsesLimits) {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, decision] of Object.entries<Decision>(decisions)) {
    if (decision.kind === 'accept') shape[key] = decision.schema(limits).optional();
  }
  return z.strictObject(shape);
}

/** Returns a parser bound to the configured limits; it throws an ApiError for the first problem found. */
export function makeResponsesRequestParser(
  limits: ResponsesLimits,
  settings: Config['responses'],
): (body: unknown) => ResponsesRequest {
  const schema = buildResponsesRequestSchema(limits);
  const allowedHosted = new Set(settings.allowedHostedTools);

  return (body) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalid('The request body must be a JSON object.', null);
    }
    const fields = body as Record<string, unknown>;
    for (const [key, value] of Object.entries(fields)) {
      const decision = (decisions as Record<string, Decision | undefined>)[key];
      if (decision?.kind !== 'refuse' || value === null || value === undefined) continue;
      if ('unless' in decision && value === decision.unless) continue;
      throw new ApiError(400, 'parameter_not_accepted', decision.reason, { param: key });
    }
    const accepted = Object.fromEntries(
      Object.entries(fields).filter(
        ([key]) => (decisions as Record<string, Decision | undefined>)[key]?.kind !== 'refuse',
      ),
    );
    refuseItemReferences(accepted.input);
    refuseHostedTools(accepted.tools, allowedHosted);
    if (accepted.input === undefined) throw invalid("Missing required parameter: 'input'.", 'input');
    const parsed = schema.safeParse(accepted);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    if (issue?.code === 'unrecognized_keys') {
      const param = pathToParam([...issue.path, issue.keys[0] ?? '']);
      throw invalid(`Unrecognized request argument supplied: ${param}`, param);
    }
    const param = issue ? pathToParam(issue.path) : '';
    throw invalid(`Invalid value for '${param || 'body'}': ${issue?.message ?? 'invalid'}`, param || null);
  };
}
