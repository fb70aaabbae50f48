import { createHash } from 'node:crypto';
import { isRecord } from './http-util';

/**
 * What the emulated model answers. There is no model: every answer is a deterministic function of the request,
 * shaped so a newcomer sees their own words come back and a client library sees the shapes it depends on.
 * The choice of when to call a tool (tool_choice "required" or named, or the last user message naming a tool)
 * and the generated arguments are the emulator's own rules, not Azure's.
 */

export interface ReplyMessage {
  role: string;
  text: string;
  toolCallId?: string;
  toolCalls?: { id: string; name: string }[];
}

export interface ReplyTool {
  name: string;
  parameters: unknown;
}

export interface ReplyRequest {
  messages: ReplyMessage[];
  tools: ReplyTool[];
  /** 'none' | 'auto' | 'required' | the named function. */
  toolChoice: string | { name: string } | undefined;
  parallelToolCalls: boolean;
  responseFormat: { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; schema: unknown };
}

export interface PlannedToolCall {
  id: string;
  name: string;
  arguments: string;
}

export type Reply = { kind: 'text'; text: string } | { kind: 'tool_calls'; calls: PlannedToolCall[] };

const QUOTED_WORDS = 40;

const normalise = (text: string): string => text.replace(/\s+/g, ' ').trim();

function quote(text: string, words = QUOTED_WORDS): string {
  const all = normalise(text).split(' ');
  return all.length > words ? `${all.slice(0, words).join(' ')} …` : all.join(' ');
}

const lastOf = (messages: readonly ReplyMessage[], role: string): ReplyMessage | undefined =>
  messages.findLast((message) => message.role === role);

/**
 * The word a value is made of: the last capitalised word after the first ("weather in Paris?" → "Paris"),
 * else the last word with a letter in it, without punctuation.
 */
function subjectOf(text: string, skip: readonly string[] = []): string {
  const candidates = normalise(text)
    .split(' ')
    .map((word) => word.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ''))
    .filter((word) => /\p{L}/u.test(word) && !skip.includes(word.toLowerCase()));
  const named = candidates.slice(1).filter((word) => /^\p{Lu}/u.test(word));
  return named.at(-1) ?? candidates.at(-1) ?? 'emulator';
}

const firstNumberIn = (text: string): number | undefined => {
  const match = /-?\d+(\.\d+)?/.exec(text);
  return match ? Number(match[0]) : undefined;
};

interface Hints {
  subject: string;
  number: number | undefined;
}

function resolveRef(ref: string, root: unknown): unknown {
  if (!ref.startsWith('#/')) return {};
  let node: unknown = root;
  for (const segment of ref.slice(2).split('/')) {
    node = isRecord(node) ? node[segment.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  }
  return node ?? {};
}

function numberFor(schema: Record<string, unknown>, integer: boolean, hints: Hints): number {
  const min =
    typeof schema.minimum === 'number'
      ? schema.minimum
      : typeof schema.exclusiveMinimum === 'number'
        ? schema.exclusiveMinimum + 1
        : undefined;
  const max =
    typeof schema.maximum === 'number'
      ? schema.maximum
      : typeof schema.exclusiveMaximum === 'number'
        ? schema.exclusiveMaximum - 1
        : undefined;
  let value = hints.number ?? min ?? 1;
  if (integer) value = Math.round(value);
  if (min !== undefined && value < min) value = integer ? Math.ceil(min) : min;
  if (max !== undefined && value > max) value = integer ? Math.floor(max) : max;
  return value;
}

function stringFor(schema: Record<string, unknown>, hints: Hints): string {
  const formats: Record<string, string> = {
    'date-time': '2025-01-01T00:00:00Z',
    date: '2025-01-01',
    time: '00:00:00Z',
    email: 'emulator@example.com',
    uri: 'https://example.com/',
    url: 'https://example.com/',
    uuid: '00000000-0000-4000-8000-000000000000',
  };
  let value = (typeof schema.format === 'string' ? formats[schema.format] : undefined) ?? hints.subject;
  if (typeof schema.minLength === 'number') value = value.padEnd(schema.minLength, '.');
  if (typeof schema.maxLength === 'number') value = value.slice(0, schema.maxLength);
  return value;
}

/**
 * A value valid against a JSON Schema (the subset tool parameters and structured outputs use: type, enum,
 * const, properties, items, anyOf/oneOf/allOf, $ref, string formats and lengths, number bounds, minItems).
 * Strings take a word from the prompt and numbers the first number in it, so the value is visibly derived.
 */
export function exampleFor(schema: unknown, hints: Hints, root: unknown = schema, depth = 0): unknown {
  if (!isRecord(schema) || depth > 16) return null;
  if (typeof schema.$ref === 'string')
    return exampleFor(resolveRef(schema.$ref, root), hints, root, depth + 1);
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const options: unknown = schema[key];
    if (Array.isArray(options) && options.length > 0) {
      const usable: unknown =
        options.find((option) => !(isRecord(option) && option.type === 'null')) ?? options[0];
      return exampleFor(usable, hints, root, depth + 1);
    }
  }
  const types: unknown[] = Array.isArray(schema.type) ? schema.type : [schema.type];
  const type =
    types.find((candidate) => typeof candidate === 'string' && candidate !== 'null') ??
    (isRecord(schema.properties) ? 'object' : types[0]);
  switch (type) {
    case 'object': {
      const properties = isRecord(schema.properties) ? schema.properties : {};
      return Object.fromEntries(
        Object.entries(properties).map(([name, inner]) => [name, exampleFor(inner, hints, root, depth + 1)]),
      );
    }
    case 'array': {
      const count = Math.max(1, typeof schema.minItems === 'number' ? schema.minItems : 1);
      const limited = typeof schema.maxItems === 'number' ? Math.min(count, schema.maxItems) : count;
      return Array.from({ length: limited }, () => exampleFor(schema.items ?? {}, hints, root, depth + 1));
    }
    case 'string':
      return stringFor(schema, hints);
    case 'integer':
      return numberFor(schema, true, hints);
    case 'number':
      return numberFor(schema, false, hints);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return hints.subject;
  }
}

function toolCallId(messages: readonly ReplyMessage[], index: number): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(messages.map((message) => [message.role, message.text])))
    .update(`#${index}`)
    .digest('base64url')
    .replace(/[-_]/g, 'x');
  return `call_${digest.slice(0, 24)}`;
}

function toolsToCall(request: ReplyRequest): ReplyTool[] {
  const { tools, toolChoice } = request;
  if (tools.length === 0 || toolChoice === 'none') return [];
  if (typeof toolChoice === 'object')
    return tools.filter((tool) => tool.name === toolChoice.name).slice(0, 1);
  const last = request.messages.at(-1);
  const asked = last?.role === 'user' ? last.text.toLowerCase() : '';
  const named = tools.filter((tool) => asked.includes(tool.name.toLowerCase()));
  const chosen = named.length > 0 ? named : toolChoice === 'required' ? tools.slice(0, 1) : [];
  return request.parallelToolCalls ? chosen : chosen.slice(0, 1);
}

/** The text the answer is made of: the last user message, else the last message of any role. */
const promptText = (messages: readonly ReplyMessage[]): string =>
  lastOf(messages, 'user')?.text ?? messages.at(-1)?.text ?? '';

/** The values of generated arguments: a word of the prompt (tool names skipped) and its first number. */
const hintsFor = (messages: readonly ReplyMessage[], tools: readonly ReplyTool[]): Hints => {
  const text = promptText(messages);
  const skip = tools.map((tool) => tool.name.toLowerCase());
  return { subject: subjectOf(text, skip), number: firstNumberIn(text) };
};

function callOf(
  messages: readonly ReplyMessage[],
  tool: ReplyTool,
  index: number,
  hints: Hints,
): PlannedToolCall {
  return {
    id: toolCallId(messages, index),
    name: tool.name,
    arguments: JSON.stringify(exampleFor(tool.parameters ?? { type: 'object' }, hints) ?? {}),
  };
}

/** A call of the given tool, made as planReply makes one: arguments valid against its schema, from the prompt. */
export const planToolCall = (messages: readonly ReplyMessage[], tool: ReplyTool): PlannedToolCall =>
  callOf(messages, tool, 0, hintsFor(messages, [tool]));

/**
 * The answer in words: the quoted tool result after a tool message, else an echo of the prompt; JSON valid
 * against the schema for json_schema, the answer wrapped in `{"reply": …}` for json_object.
 */
export function planText(request: Pick<ReplyRequest, 'messages' | 'responseFormat'>, model: string): string {
  const { messages, responseFormat: format } = request;
  if (format.type === 'json_schema') return JSON.stringify(exampleFor(format.schema, hintsFor(messages, [])));
  const last = messages.at(-1);
  let text: string;
  if (last && (last.role === 'tool' || last.role === 'function')) {
    const call = messages
      .flatMap((message) => message.toolCalls ?? [])
      .find((candidate) => candidate.id === last.toolCallId);
    text = `The ${call?.name ?? 'tool'} tool returned: ${quote(last.text)}`;
  } else {
    text = `You said: "${quote(promptText(messages))}". This is ${model} on the local emulator.`;
  }
  return format.type === 'json_object' ? JSON.stringify({ reply: text }) : text;
}

/** What the model "says": tool calls when asked for, the quoted tool result after one, else an echo. */
export function planReply(request: ReplyRequest, model: string): Reply {
  const tools = toolsToCall(request);
  if (tools.length === 0) return { kind: 'text', text: planText(request, model) };
  const hints = hintsFor(request.messages, tools);
  return {
    kind: 'tool_calls',
    calls: tools.map((tool, index) => callOf(request.messages, tool, index, hints)),
  };
}

/** Text split into tokens the way the emulator counts them: one per word, spaces kept in front. */
export function textTokens(text: string, json: boolean): string[] {
  if (json) return text.match(/[\s\S]{1,4}/g) ?? [];
  return text.split(/(?= )/);
}
