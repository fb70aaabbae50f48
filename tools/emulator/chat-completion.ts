import { createHash, randomBytes } from 'node:crypto';
import type { CatalogModel } from './catalog';
import { isRecord } from './http-util';

/** The parts of a chat completion request the emulator acts on, after Azure-like validation. */
export interface ChatRequest {
  messages: { role: string; text: string; imageParts: number }[];
  /** max_tokens ?? max_completion_tokens, when the caller set one. */
  maxTokens: number | undefined;
  n: number;
  stream: boolean;
  includeUsage: boolean;
  model: string | undefined;
}

export interface InvalidRequest {
  status: 400;
  body: {
    error: { message: string; type: 'invalid_request_error'; param: string | null; code: string | null };
  };
}

export type FinishReason = 'stop' | 'length' | 'content_filter';

export interface Completion {
  id: string;
  created: number;
  model: string;
  systemFingerprint: string;
  promptTokens: number;
  choices: { index: number; tokens: string[]; finishReason: FinishReason }[];
}

/**
 * How long the model's own answer is: a short reply, as chat models usually give. `max_tokens` only cuts it
 * shorter (finish_reason `length`): Azure's reference defines it as the most tokens that can be generated.
 */
export const DEFAULT_COMPLETION_TOKENS = 16;
/** Test control: `[[words:N]]` in a user message makes the model's own answer N tokens long. */
const ANSWER_LENGTH = /\[\[words:(\d{1,6})\]\]/;
/** Tokens streamed before `[[block-completion]]` makes the filter cut the answer. */
const TOKENS_BEFORE_COMPLETION_FILTER = 3;
/** Image parts are charged a flat amount, like a low-detail image. */
const TOKENS_PER_IMAGE = 85;

export const BLOCK_PROMPT = '[[block-prompt]]';
export const BLOCK_COMPLETION = '[[block-completion]]';

const roles = ['system', 'assistant', 'user', 'function', 'tool', 'developer'];

const words = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore ' +
  'magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo ' +
  'consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint ' +
  'occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum'
).split(' ');

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
    else if (part.type === 'image_url') imageParts += 1;
    else return undefined;
  }
  return { text, imageParts };
}

/** Validates the body the way Azure OpenAI does for the fields the emulator reads. */
export function parseChatRequest(body: unknown): ChatRequest | InvalidRequest {
  if (!isRecord(body)) return invalid('Invalid body: expected a JSON object.', null);
  const rawMessages = body.messages;
  if (rawMessages === undefined) return invalid("'messages' is a required property", null);
  if (!Array.isArray(rawMessages))
    return invalid(`${JSON.stringify(rawMessages)} is not of type 'array' - 'messages'`, null);
  if (rawMessages.length === 0) return invalid("[] is too short - 'messages'", null);
  const messages: ChatRequest['messages'] = [];
  for (const [index, message] of rawMessages.entries()) {
    if (!isRecord(message))
      return invalid(`${JSON.stringify(message)} is not of type 'object' - 'messages.${index}'`, null);
    const role = message.role;
    if (typeof role !== 'string' || !roles.includes(role)) {
      return invalid(
        `${JSON.stringify(role ?? null)} is not one of ${JSON.stringify(roles)} - 'messages.${index}.role'`,
        null,
      );
    }
    const content = messageText(message.content);
    if (!content)
      return invalid(
        `Invalid content in 'messages[${index}].content'.`,
        `messages.[${index}].content`,
        'invalid_value',
      );
    messages.push({ role, ...content });
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
  return {
    messages,
    maxTokens: maxTokens ?? maxCompletionTokens,
    n: n ?? 1,
    stream,
    includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
    model: typeof body.model === 'string' ? body.model : undefined,
  };
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

/** A small seeded generator (mulberry32): the same prompt always yields the same words. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function promptSeed(request: ChatRequest, choice: number): number {
  const digest = createHash('sha256')
    .update(JSON.stringify(request.messages.map((message) => [message.role, message.text])))
    .update(`#${choice}`)
    .digest();
  return digest.readUInt32BE(0);
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 29 alphanumerics, the shape of Azure's completion ids. */
function completionIdSuffix(): string {
  return Array.from(randomBytes(29), (byte) => ID_ALPHABET[byte % ID_ALPHABET.length] ?? 'A').join('');
}

/** The length of the model's own answer: `[[words:N]]` in a user message, else a short reply. */
function answerLength(request: ChatRequest): number {
  for (const message of request.messages) {
    const match = message.role === 'user' ? ANSWER_LENGTH.exec(message.text) : null;
    if (match?.[1] !== undefined) return Math.max(1, Number(match[1]));
  }
  return DEFAULT_COMPLETION_TOKENS;
}

/** The generated answer: one word (' lorem') per token, the model's own length cut at `max_tokens`. */
export function generateCompletion(
  request: ChatRequest,
  model: CatalogModel,
  promptTokens: number,
): Completion {
  const natural = answerLength(request);
  const cut = request.maxTokens !== undefined && request.maxTokens < natural;
  const requested = cut ? (request.maxTokens ?? natural) : natural;
  const filtered = contentFilterTrigger(request) === 'completion';
  const count = filtered ? Math.min(requested, TOKENS_BEFORE_COMPLETION_FILTER) : requested;
  const finishReason: FinishReason = filtered ? 'content_filter' : cut ? 'length' : 'stop';
  const choices = Array.from({ length: request.n }, (_, index) => {
    const random = seededRandom(promptSeed(request, index));
    const tokens = Array.from(
      { length: count },
      () => ` ${words[Math.floor(random() * words.length)] ?? 'lorem'}`,
    );
    return { index, tokens, finishReason };
  });
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

function usage(completion: Completion): Record<string, unknown> {
  const completionTokens = completion.choices.reduce((sum, choice) => sum + choice.tokens.length, 0);
  return {
    completion_tokens: completionTokens,
    completion_tokens_details: {
      accepted_prediction_tokens: 0,
      audio_tokens: 0,
      reasoning_tokens: 0,
      rejected_prediction_tokens: 0,
    },
    prompt_tokens: completion.promptTokens,
    prompt_tokens_details: { audio_tokens: 0, cached_tokens: 0 },
    total_tokens: completion.promptTokens + completionTokens,
  };
}

export function completionTokenCount(completion: Completion): number {
  return completion.choices.reduce((sum, choice) => sum + choice.tokens.length, 0);
}

/** The non-streaming `chat.completion` body, keys in Azure's (alphabetical) order. */
export function completionBody(completion: Completion): Record<string, unknown> {
  return {
    choices: completion.choices.map((choice) => ({
      content_filter_results: completionFilterResults(choice.finishReason === 'content_filter'),
      finish_reason: choice.finishReason,
      index: choice.index,
      logprobs: null,
      message: { annotations: [], content: choice.tokens.join(''), refusal: null, role: 'assistant' },
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
    events.push(
      event(
        chunk([
          {
            content_filter_results: {},
            delta: { content: '', refusal: null, role: 'assistant' },
            finish_reason: null,
            index: choice.index,
            logprobs: null,
          },
        ]),
      ),
    );
  }
  const longest = Math.max(...completion.choices.map((choice) => choice.tokens.length));
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
