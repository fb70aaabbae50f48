import { createHash, randomBytes } from 'node:crypto';
import type { CatalogModel } from './catalog';
import {
  planReply,
  textTokens,
  type PlannedToolCall,
  type ReplyMessage,
  type ReplyRequest,
  type ReplyTool,
} from './chat-reply';
import { chatSchemaError, type ChatSurface } from './chat-schema';
import { isRecord } from './http-util';

/** The parts of a chat completion request the emulator acts on, after Azure-like validation. */
export interface ChatRequest extends ReplyRequest {
  messages: (ReplyMessage & { imageParts: number })[];
  /** max_tokens ?? max_completion_tokens, when the caller set one. */
  maxTokens: number | undefined;
  n: number;
  stream: boolean;
  includeUsage: boolean;
  model: string | undefined;
  reasoningEffort: string | undefined;
  /** The body as sent, for the checks that depend on the deployment's model. */
  body: Record<string, unknown>;
}

export interface InvalidRequest {
  status: 400;
  body: {
    error: { message: string; type: 'invalid_request_error'; param: string | null; code: string | null };
  };
}

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls';

export interface CompletionChoice {
  index: number;
  /** Content tokens; empty when the choice is tool calls. */
  tokens: string[];
  toolCalls: PlannedToolCall[];
  /** Tokens each tool call's arguments count for. */
  toolCallTokens: number;
  reasoningTokens: number;
  finishReason: FinishReason;
}

export interface Completion {
  id: string;
  created: number;
  model: string;
  systemFingerprint: string;
  promptTokens: number;
  choices: CompletionChoice[];
}

/** Tokens charged up front when the request sets no max_tokens (rate limits and the context check). */
export const DEFAULT_COMPLETION_TOKENS = 16;
/** Test control: `[[words:N]]` in a user message makes the model's own answer N tokens long. */
const ANSWER_LENGTH = /\[\[words:(\d{1,6})\]\]/;
/** Tokens streamed before `[[block-completion]]` makes the filter cut the answer. */
const TOKENS_BEFORE_COMPLETION_FILTER = 3;
/** Image parts are charged a flat amount, like a low-detail image. */
const TOKENS_PER_IMAGE = 85;
/**
 * Hidden reasoning tokens a reasoning model spends per effort. A guess in size; what is documented is that they
 * count against max_completion_tokens and are reported as completion_tokens_details.reasoning_tokens
 * (learn.microsoft.com, Azure OpenAI reasoning models).
 */
const REASONING_TOKENS: Record<string, number> = { minimal: 0, low: 8, medium: 16, high: 32 };
const REASONING_EFFORTS = ['low', 'medium', 'high'];

export const BLOCK_PROMPT = '[[block-prompt]]';
export const BLOCK_COMPLETION = '[[block-completion]]';

function invalid(message: string, param: string | null, code: string | null = null): InvalidRequest {
  return { status: 400, body: { error: { message, type: 'invalid_request_error', param, code } } };
}

function positiveInteger(
  body: Record<string, unknown>,
  name: string,
  max: number,
): number | InvalidRequest | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    return invalid(
      `Invalid type for '${name}': expected an integer, but got ${typeof value} instead.`,
      name,
      'invalid_type',
    );
  }
  if (value < 1) {
    return invalid(
      `Invalid '${name}': integer below minimum value. Expected a value >= 1, but got ${value} instead.`,
      name,
      'integer_below_min_value',
    );
  }
  if (value > max) {
    return invalid(
      `Invalid '${name}': integer above maximum value. Expected a value <= ${max}, but got ${value} instead.`,
      name,
      'integer_above_max_value',
    );
  }
  return value;
}

function messageText(content: unknown): { text: string; imageParts: number } | undefined {
  if (content === undefined || content === null) return { text: '', imageParts: 0 };
  if (typeof content === 'string') return { text: content, imageParts: 0 };
  if (!Array.isArray(content)) return undefined;
  let text = '';
  let imageParts = 0;
  for (const part of content) {
    if (!isRecord(part)) return undefined;
    if (part.type === 'text' && typeof part.text === 'string') text += part.text;
    else if (part.type === 'refusal' && typeof part.refusal === 'string') text += part.refusal;
    else if (part.type === 'image_url') imageParts += 1;
    else return undefined;
  }
  return { text, imageParts };
}

function toolCallsOf(message: Record<string, unknown>): { id: string; name: string }[] | undefined {
  if (!Array.isArray(message.tool_calls)) return undefined;
  return message.tool_calls.flatMap((call) =>
    isRecord(call) && typeof call.id === 'string' && isRecord(call.function)
      ? [{ id: call.id, name: String(call.function.name) }]
      : [],
  );
}

function toolsOf(body: Record<string, unknown>): ReplyTool[] {
  if (!Array.isArray(body.tools)) return [];
  return body.tools.flatMap((tool) =>
    isRecord(tool) && isRecord(tool.function) && typeof tool.function.name === 'string'
      ? [{ name: tool.function.name, parameters: tool.function.parameters }]
      : [],
  );
}

function toolChoiceOf(value: unknown): ChatRequest['toolChoice'] {
  if (typeof value === 'string') return value;
  if (isRecord(value) && isRecord(value.function) && typeof value.function.name === 'string') {
    return { name: value.function.name };
  }
  return undefined;
}

function responseFormatOf(value: unknown): ChatRequest['responseFormat'] {
  if (!isRecord(value)) return { type: 'text' };
  if (value.type === 'json_object') return { type: 'json_object' };
  if (value.type === 'json_schema' && isRecord(value.json_schema)) {
    return { type: 'json_schema', schema: value.json_schema.schema ?? {} };
  }
  return { type: 'text' };
}

/**
 * Validates the body the way Azure OpenAI does for the given surface (see chat-schema.ts for the property lists
 * and the wording), then reads the fields the emulator acts on. Independent of the route that received it.
 */
export function parseChatRequest(body: unknown, surface: ChatSurface = 'ga'): ChatRequest | InvalidRequest {
  if (!isRecord(body)) return invalid('Invalid body: expected a JSON object.', null);
  const rawMessages = body.messages;
  if (rawMessages === undefined) return invalid("'messages' is a required property", null);
  if (!Array.isArray(rawMessages))
    return invalid(`${JSON.stringify(rawMessages)} is not of type 'array' - 'messages'`, null);
  if (rawMessages.length === 0) return invalid("[] is too short - 'messages'", null);
  const schemaProblem = chatSchemaError(body, surface);
  if (schemaProblem) return invalid(schemaProblem.message, schemaProblem.param, schemaProblem.code);
  const messages: ChatRequest['messages'] = [];
  for (const [index, message] of rawMessages.entries()) {
    if (!isRecord(message)) continue;
    const content = messageText(message.content);
    if (!content)
      return invalid(
        `Invalid content in 'messages[${index}].content'.`,
        `messages.[${index}].content`,
        'invalid_value',
      );
    const toolCalls = toolCallsOf(message);
    messages.push({
      role: String(message.role),
      ...content,
      ...(typeof message.tool_call_id === 'string' ? { toolCallId: message.tool_call_id } : {}),
      ...(toolCalls ? { toolCalls } : {}),
    });
  }
  const maxTokens = positiveInteger(body, 'max_tokens', 1_000_000);
  if (isInvalid(maxTokens)) return maxTokens;
  const maxCompletionTokens = positiveInteger(body, 'max_completion_tokens', 1_000_000);
  if (isInvalid(maxCompletionTokens)) return maxCompletionTokens;
  const n = positiveInteger(body, 'n', 128);
  if (isInvalid(n)) return n;
  const stream = body.stream === true;
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    return invalid(
      `Invalid type for 'stream': expected a boolean, but got ${typeof body.stream} instead.`,
      'stream',
      'invalid_type',
    );
  }
  const streamOptions = body.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && !stream) {
    return invalid(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'stream_options',
    );
  }
  // NOTE: OpenAI's enum wording and code; a guess that Azure words it the same.
  if (typeof body.tool_choice === 'string' && !['none', 'auto', 'required'].includes(body.tool_choice)) {
    return invalid(
      `Invalid value: '${body.tool_choice}'. Supported values are: 'none', 'auto', and 'required'.`,
      'tool_choice',
      'invalid_value',
    );
  }
  return {
    messages,
    maxTokens: maxTokens ?? maxCompletionTokens,
    n: n ?? 1,
    stream,
    includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
    model: typeof body.model === 'string' ? body.model : undefined,
    tools: toolsOf(body),
    toolChoice: toolChoiceOf(body.tool_choice),
    parallelToolCalls: body.parallel_tool_calls !== false,
    responseFormat: responseFormatOf(body.response_format),
    reasoningEffort: typeof body.reasoning_effort === 'string' ? body.reasoning_effort : undefined,
    body,
  };
}

/** Sampling parameters reasoning models refuse (learn.microsoft.com, Azure OpenAI reasoning models: "not supported"). */
const REASONING_UNSUPPORTED = [
  'top_p',
  'presence_penalty',
  'frequency_penalty',
  'logprobs',
  'top_logprobs',
  'logit_bias',
];

/**
 * The checks that depend on the deployment's model, in Azure's wording:
 * - reasoning models refuse max_tokens: "Unsupported parameter: 'max_tokens' is not supported with this model.
 *   Use 'max_completion_tokens' instead.", code unsupported_parameter (langgenius/dify#9746, lobehub/lobehub#5909);
 * - and temperature other than 1: "Unsupported value: 'temperature' does not support 0.1 with this model. Only the
 *   default (1) value is supported.", code unsupported_value (o4-mini: microsoft/vscode#253673);
 * - and the other sampling parameters: "Unsupported parameter: 'top_p' is not supported with this model."
 *   (o3-mini wording for temperature in obot-platform/obot#2862, applied to the list in Microsoft's docs);
 * - reasoning_effort outside low/medium/high: OpenAI's enum wording with code invalid_value (a guess for Azure);
 * - reasoning_effort on a model that does not reason: the unsupported_parameter wording (a guess).
 */
export function modelParameterError(request: ChatRequest, reasoning: boolean): InvalidRequest | undefined {
  const { body } = request;
  const set = (name: string) => body[name] !== undefined && body[name] !== null;
  if (reasoning) {
    if (set('max_tokens')) {
      return invalid(
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        'max_tokens',
        'unsupported_parameter',
      );
    }
    if (set('temperature') && body.temperature !== 1) {
      return invalid(
        `Unsupported value: 'temperature' does not support ${JSON.stringify(body.temperature)} with this model. Only the default (1) value is supported.`,
        'temperature',
        'unsupported_value',
      );
    }
    const refused = REASONING_UNSUPPORTED.find(set);
    if (refused) {
      return invalid(
        `Unsupported parameter: '${refused}' is not supported with this model.`,
        refused,
        'unsupported_parameter',
      );
    }
    if (request.reasoningEffort !== undefined && !REASONING_EFFORTS.includes(request.reasoningEffort)) {
      return invalid(
        `Invalid value: '${request.reasoningEffort}'. Supported values are: 'low', 'medium', and 'high'.`,
        'reasoning_effort',
        'invalid_value',
      );
    }
    return undefined;
  }
  if (set('reasoning_effort')) {
    return invalid(
      "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
      'reasoning_effort',
      'unsupported_parameter',
    );
  }
  return undefined;
}

export function isInvalid(value: unknown): value is InvalidRequest {
  return isRecord(value) && value.status === 400;
}

/** chars/4 per message, rounded up, plus 3 tokens of framing per message and 3 to prime the reply. */
export function estimatePromptTokens(request: ChatRequest): number {
  const perMessage = request.messages.map(
    (message) => Math.ceil(message.text.length / 4) + message.imageParts * TOKENS_PER_IMAGE + 3,
  );
  return perMessage.reduce((sum, tokens) => sum + tokens, 3);
}

/** The magic words in user messages that make the emulated content filter fire. */
export function contentFilterTrigger(request: ChatRequest): 'prompt' | 'completion' | undefined {
  const userText = request.messages
    .filter((message) => message.role === 'user')
    .map((message) => message.text);
  if (userText.some((text) => text.includes(BLOCK_PROMPT))) return 'prompt';
  if (userText.some((text) => text.includes(BLOCK_COMPLETION))) return 'completion';
  return undefined;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 29 alphanumerics, the shape of Azure's completion ids. */
function completionIdSuffix(): string {
  return Array.from(randomBytes(29), (byte) => ID_ALPHABET[byte % ID_ALPHABET.length] ?? 'A').join('');
}

/** The answer at the length `[[words:N]]` asks for: cut, or continued with the prompt's words over again. */
function withLength(tokens: string[], request: ChatRequest): string[] {
  const asked = request.messages
    .filter((message) => message.role === 'user')
    .map((message) => ANSWER_LENGTH.exec(message.text)?.[1])
    .find((value) => value !== undefined);
  if (asked === undefined) return tokens;
  const length = Math.max(1, Number(asked));
  const filler = tokens.slice(1);
  const result = tokens.slice(0, length);
  for (let position = 0; result.length < length; position += 1) {
    result.push(filler[position % filler.length] ?? ' more');
  }
  return result;
}

/** Tokens a tool call's arguments count for: about four characters a token, like the prompt estimate. */
const argumentTokens = (call: PlannedToolCall): number => Math.ceil(call.arguments.length / 4) + 1;

function choiceFor(
  request: ChatRequest,
  modelName: string,
  index: number,
  reasoning: boolean,
): CompletionChoice {
  const cap = request.maxTokens;
  const effort = request.reasoningEffort ?? 'medium';
  const reasoningWanted = reasoning ? (REASONING_TOKENS[effort] ?? REASONING_TOKENS.medium ?? 0) : 0;
  const reasoningTokens = cap === undefined ? reasoningWanted : Math.min(reasoningWanted, cap);
  const budget = cap === undefined ? Number.POSITIVE_INFINITY : cap - reasoningTokens;
  const base = { index, reasoningTokens, toolCalls: [], toolCallTokens: 0 };
  if (budget <= 0 && cap !== undefined && reasoningWanted >= cap) {
    return { ...base, tokens: [], finishReason: 'length' };
  }
  const reply = planReply(request, modelName);
  if (reply.kind === 'tool_calls') {
    const toolCallTokens = reply.calls.reduce((sum, call) => sum + argumentTokens(call), 0);
    if (toolCallTokens <= budget) {
      return { ...base, tokens: [], toolCalls: reply.calls, toolCallTokens, finishReason: 'tool_calls' };
    }
    const [first] = reply.calls;
    const cut = first ? [{ ...first, arguments: first.arguments.slice(0, Math.max(0, budget - 1) * 4) }] : [];
    return { ...base, tokens: [], toolCalls: cut, toolCallTokens: budget, finishReason: 'length' };
  }
  const json = request.responseFormat.type !== 'text';
  const text = index > 0 && !json ? `Alternative ${index}: ${reply.text}` : reply.text;
  const tokens = json ? textTokens(text, true) : withLength(textTokens(text, false), request);
  if (contentFilterTrigger(request) === 'completion') {
    return {
      ...base,
      tokens: tokens.slice(0, Math.min(budget, TOKENS_BEFORE_COMPLETION_FILTER)),
      finishReason: 'content_filter',
    };
  }
  if (tokens.length > budget) return { ...base, tokens: tokens.slice(0, budget), finishReason: 'length' };
  return { ...base, tokens, finishReason: 'stop' };
}

/**
 * The generated answer (see chat-reply.ts): an echo of the prompt, tool calls, a quoted tool result or JSON for
 * response_format, one token per word (four characters per token for JSON). `finish_reason` is `length` only
 * when max_tokens / max_completion_tokens cut the answer.
 */
export function generateCompletion(
  request: ChatRequest,
  model: CatalogModel,
  promptTokens: number,
  reasoning = false,
): Completion {
  const choices = Array.from({ length: request.n }, (_, index) =>
    choiceFor(request, model.name, index, reasoning),
  );
  return {
    id: `chatcmpl-${completionIdSuffix()}`,
    created: Math.floor(Date.now() / 1000),
    model: `${model.name}-${model.version}`,
    systemFingerprint: `fp_${createHash('sha256').update(`${model.name}@${model.version}`).digest('hex').slice(0, 10)}`,
    promptTokens,
    choices,
  };
}

const safe = { filtered: false, severity: 'safe' };
const notDetected = { filtered: false, detected: false };

function harmCategories(blocked: boolean): Record<string, unknown> {
  return {
    hate: blocked ? { filtered: true, severity: 'high' } : safe,
    self_harm: safe,
    sexual: safe,
    violence: safe,
  };
}

/** The prompt annotations: the harm categories plus jailbreak detection. */
export function promptFilterResults(blocked = false): Record<string, unknown> {
  const { hate, self_harm, sexual, violence } = harmCategories(blocked);
  return { hate, jailbreak: notDetected, self_harm, sexual, violence };
}

function completionFilterResults(blocked: boolean): Record<string, unknown> {
  return {
    ...harmCategories(blocked),
    protected_material_code: notDetected,
    protected_material_text: notDetected,
  };
}

export function completionTokenCount(completion: Completion): number {
  return completion.choices.reduce(
    (sum, choice) => sum + choice.tokens.length + choice.toolCallTokens + choice.reasoningTokens,
    0,
  );
}

function usage(completion: Completion): Record<string, unknown> {
  const completionTokens = completionTokenCount(completion);
  return {
    completion_tokens: completionTokens,
    completion_tokens_details: {
      accepted_prediction_tokens: 0,
      audio_tokens: 0,
      reasoning_tokens: completion.choices.reduce((sum, choice) => sum + choice.reasoningTokens, 0),
      rejected_prediction_tokens: 0,
    },
    prompt_tokens: completion.promptTokens,
    prompt_tokens_details: { audio_tokens: 0, cached_tokens: 0 },
    total_tokens: completion.promptTokens + completionTokens,
  };
}

const toolCallsBody = (calls: PlannedToolCall[]) =>
  calls.map((call) => ({
    function: { arguments: call.arguments, name: call.name },
    id: call.id,
    type: 'function',
  }));

/** The non-streaming `chat.completion` body, keys in Azure's (alphabetical) order. */
export function completionBody(completion: Completion): Record<string, unknown> {
  return {
    choices: completion.choices.map((choice) => ({
      content_filter_results: completionFilterResults(choice.finishReason === 'content_filter'),
      finish_reason: choice.finishReason,
      index: choice.index,
      logprobs: null,
      message:
        choice.toolCalls.length > 0
          ? {
              annotations: [],
              content: null,
              refusal: null,
              role: 'assistant',
              tool_calls: toolCallsBody(choice.toolCalls),
            }
          : { annotations: [], content: choice.tokens.join(''), refusal: null, role: 'assistant' },
    })),
    created: completion.created,
    id: completion.id,
    model: completion.model,
    object: 'chat.completion',
    prompt_filter_results: [{ prompt_index: 0, content_filter_results: promptFilterResults() }],
    system_fingerprint: completion.systemFingerprint,
    usage: usage(completion),
  };
}

export interface StreamEvent {
  /** The text after `data: `. */
  data: string;
  /** Content chunks are the ones latency faults space apart. */
  content: boolean;
}

/**
 * The SSE events Azure sends for a streamed completion, in order: the prompt-filter prelude, the role chunk,
 * one chunk per token, the finish chunk, the usage chunk (only with include_usage), `[DONE]`.
 */
export function completionEvents(completion: Completion, includeUsage: boolean): StreamEvent[] {
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): StreamEvent['data'] =>
    JSON.stringify({
      choices,
      created: completion.created,
      id: completion.id,
      model: completion.model,
      object: 'chat.completion.chunk',
      system_fingerprint: completion.systemFingerprint,
      ...extra,
    });
  const event = (data: string, content = false): StreamEvent => ({ data, content });
  const events: StreamEvent[] = [
    event(
      JSON.stringify({
        choices: [],
        created: 0,
        id: '',
        model: '',
        object: '',
        prompt_filter_results: [{ prompt_index: 0, content_filter_results: promptFilterResults() }],
      }),
    ),
  ];
  for (const choice of completion.choices) {
    const [first, ...others] = choice.toolCalls;
    // NOTE: a tool call streams as OpenAI and Azure send it: id, type and name with empty arguments in the
    // first delta, then the arguments in fragments keyed by index (platform.openai.com "Streaming" function
    // calling guide; Azure capture in langchain4j/langchain4j#2385).
    const announce = (call: PlannedToolCall, index: number) => ({
      function: { arguments: '', name: call.name },
      id: call.id,
      index,
      type: 'function',
    });
    const delta = first
      ? { content: null, refusal: null, role: 'assistant', tool_calls: [announce(first, 0)] }
      : { content: '', refusal: null, role: 'assistant' };
    events.push(
      event(
        chunk([
          { content_filter_results: {}, delta, finish_reason: null, index: choice.index, logprobs: null },
        ]),
      ),
    );
    for (const [position, call] of choice.toolCalls.entries()) {
      if (position > 0 && others.length > 0) {
        events.push(
          event(
            chunk([
              {
                content_filter_results: {},
                delta: { tool_calls: [announce(call, position)] },
                finish_reason: null,
                index: choice.index,
                logprobs: null,
              },
            ]),
          ),
        );
      }
      for (const fragment of textTokens(call.arguments, true)) {
        const argumentsChoice = {
          content_filter_results: {},
          delta: { tool_calls: [{ function: { arguments: fragment }, index: position }] },
          finish_reason: null,
          index: choice.index,
          logprobs: null,
        };
        events.push(event(chunk([argumentsChoice]), true));
      }
    }
  }
  const longest = Math.max(0, ...completion.choices.map((choice) => choice.tokens.length));
  for (let position = 0; position < longest; position += 1) {
    for (const choice of completion.choices) {
      const token = choice.tokens[position];
      if (token === undefined) continue;
      const contentChoice = {
        content_filter_results: harmCategories(false),
        delta: { content: token },
        finish_reason: null,
        index: choice.index,
        logprobs: null,
      };
      events.push(event(chunk([contentChoice]), true));
    }
  }
  for (const choice of completion.choices) {
    const blocked = choice.finishReason === 'content_filter';
    const finishChoice = {
      content_filter_results: blocked ? harmCategories(true) : {},
      delta: {},
      finish_reason: choice.finishReason,
      index: choice.index,
      logprobs: null,
    };
    events.push(event(chunk([finishChoice])));
  }
  if (includeUsage) events.push(event(chunk([], { usage: usage(completion) })));
  events.push(event('[DONE]'));
  return events;
}
