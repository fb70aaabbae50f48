import { randomBytes } from 'node:crypto';
import type { CatalogModel } from './catalog';
import { BLOCK_COMPLETION, BLOCK_PROMPT } from './chat-completion';
import { planText, planToolCall, textTokens, type ReplyMessage, type ReplyRequest } from './chat-reply';
import { isRecord } from './http-util';
import type { SseEvent } from './sse';

/**
 * Azure OpenAI's Responses API on the v1 surface (`POST /openai/v1/responses`), reduced to what the gateway and
 * its clients exercise: text and function-call output, plain and streamed.
 *
 * Sources:
 * - Microsoft Learn, "Azure OpenAI Responses API" (learn.microsoft.com/azure/ai-foundry/openai/how-to/responses;
 *   MicrosoftDocs/azure-ai-docs `articles/ai-services/openai/how-to/responses.md`): the response object, `store`
 *   defaulting to true with 30-day retention, streaming with `client.responses.stream`.
 * - Azure/azure-rest-api-specs `specification/ai/data-plane/OpenAI.v1/azure-v1-v1-generated.yaml`: the `/responses`
 *   and `/models` operations, the optional `api-version` (`v1`, `preview`), `AzureErrorResponse`.
 * - openai 7.59 `resources/responses/responses.d.ts`: the request keys (`ResponseCreateParamsBase`), the
 *   `Response` object and every streaming event (`ResponseStreamEvent`) with its `sequence_number`; the input
 *   items `function_call` / `function_call_output` joined by `call_id`; `text.format` with the schema at
 *   `text.format.schema` (`ResponseFormatTextJSONSchemaConfig`).
 * What the model says is the chat emulator's answer (chat-reply.ts): the same echo, quoted tool result, JSON for
 * a schema and generated arguments, so both APIs answer a prompt alike.
 * Guesses are marked `GUESS`.
 */

/** The request keys the API knows (openai 7.59 `ResponseCreateParamsBase`); anything else is refused. */
const KNOWN_KEYS = new Set([
  'access_programs',
  'background',
  'background_options',
  'context_management',
  'conversation',
  'image',
  'include',
  'input',
  'instructions',
  'max_output_tokens',
  'max_tool_calls',
  'metadata',
  'model',
  'moderation',
  'parallel_tool_calls',
  'previous_response_id',
  'prompt',
  'prompt_cache_key',
  'prompt_cache_options',
  'prompt_cache_retention',
  'reasoning',
  'safety_identifier',
  'service_tier',
  'store',
  'stream',
  'stream_options',
  'temperature',
  'text',
  'tool_choice',
  'tools',
  'top_logprobs',
  'top_p',
  'truncation',
  'user',
]);

/** OpenAI documents 16 as the smallest `max_output_tokens`; GUESS: Azure's v1 surface enforces the same. */
export const MIN_OUTPUT_TOKENS = 16;
/** Tokens streamed before `[[block-completion]]` makes the filter cut the answer, as in chat. */
const TOKENS_BEFORE_COMPLETION_FILTER = 3;

export interface FunctionTool {
  name: string;
  parameters: Record<string, unknown>;
}

export interface ResponsesRequest {
  model: string | undefined;
  /**
   * Every input item as a message (a function call as the assistant's, its output as a tool message), for the
   * prompt estimate, the content filter and the answer.
   */
  messages: ReplyMessage[];
  instructions: string | null;
  maxOutputTokens: number | null;
  stream: boolean;
  store: boolean;
  functions: FunctionTool[];
  /** The function the model calls, when it calls one. */
  call: FunctionTool | undefined;
  /** `text.format`, the Responses counterpart of chat's `response_format`. */
  responseFormat: ReplyRequest['responseFormat'];
  /** Request fields the response object echoes back. */
  echo: Record<string, unknown>;
}

export interface ResponsesError {
  status: 400;
  body: {
    error: { message: string; type: 'invalid_request_error'; param: string | null; code: string | null };
  };
}

const fail = (message: string, param: string | null, code: string | null): ResponsesError => ({
  status: 400,
  body: { error: { message, type: 'invalid_request_error', param, code } },
});

export const isResponsesError = (value: unknown): value is ResponsesError =>
  isRecord(value) && value.status === 400 && isRecord(value.body);

function partText(part: unknown): string | undefined {
  if (!isRecord(part)) return undefined;
  if ((part.type === 'input_text' || part.type === 'output_text') && typeof part.text === 'string') {
    return part.text;
  }
  if (part.type === 'refusal' && typeof part.refusal === 'string') return part.refusal;
  if (part.type === 'input_image' || part.type === 'input_file') return '';
  return undefined;
}

function itemMessage(item: Record<string, unknown>, index: number): ReplyMessage | ResponsesError {
  const type = item.type ?? 'message';
  if (type === 'message') {
    const role = item.role;
    if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer') {
      return fail(
        `Invalid value: '${String(role)}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.`,
        `input[${index}].role`,
        'invalid_value',
      );
    }
    if (typeof item.content === 'string') return { role, text: item.content };
    if (!Array.isArray(item.content)) {
      return fail(`Invalid type for 'input[${index}].content'.`, `input[${index}].content`, 'invalid_type');
    }
    let text = '';
    for (const [partIndex, part] of item.content.entries()) {
      const value = partText(part);
      if (value === undefined) {
        return fail(
          `Invalid value for 'input[${index}].content[${partIndex}]'.`,
          `input[${index}].content[${partIndex}]`,
          'invalid_value',
        );
      }
      text += value;
    }
    return { role, text };
  }
  if (type === 'function_call') {
    if (
      typeof item.call_id !== 'string' ||
      typeof item.name !== 'string' ||
      typeof item.arguments !== 'string'
    ) {
      return fail(
        `Missing required parameter: 'input[${index}].call_id'.`,
        `input[${index}]`,
        'missing_required_parameter',
      );
    }
    return {
      role: 'assistant',
      text: `${item.name}(${item.arguments})`,
      toolCalls: [{ id: item.call_id, name: item.name }],
    };
  }
  if (type === 'function_call_output') {
    if (typeof item.call_id !== 'string' || typeof item.output !== 'string') {
      return fail(
        `Missing required parameter: 'input[${index}].output'.`,
        `input[${index}]`,
        'missing_required_parameter',
      );
    }
    return { role: 'tool', text: item.output, toolCallId: item.call_id };
  }
  if (type === 'reasoning' || type === 'item_reference') return { role: 'assistant', text: '' };
  return fail(`Invalid value: '${JSON.stringify(type)}'.`, `input[${index}].type`, 'invalid_value');
}

function functionTools(tools: unknown): FunctionTool[] | ResponsesError {
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) return fail("Invalid type for 'tools'.", 'tools', 'invalid_type');
  const functions: FunctionTool[] = [];
  for (const [index, tool] of tools.entries()) {
    if (!isRecord(tool) || typeof tool.type !== 'string') {
      return fail(
        `Missing required parameter: 'tools[${index}].type'.`,
        `tools[${index}].type`,
        'missing_required_parameter',
      );
    }
    if (tool.type !== 'function') continue;
    if (typeof tool.name !== 'string' || tool.name === '') {
      return fail(
        `Missing required parameter: 'tools[${index}].name'.`,
        `tools[${index}].name`,
        'missing_required_parameter',
      );
    }
    functions.push({ name: tool.name, parameters: isRecord(tool.parameters) ? tool.parameters : {} });
  }
  return functions;
}

/**
 * Which function the emulated model calls. GUESS (a stand-in for a model's choice, not Azure behaviour): with
 * function tools offered and `tool_choice` not `none`, it calls one (the named one, else the first) unless the
 * last input item is a function result, which it answers in text. So a client's tool round trip always completes
 * in two steps.
 */
function chosenFunction(
  functions: readonly FunctionTool[],
  toolChoice: unknown,
  lastItem: unknown,
): FunctionTool | undefined {
  if (functions.length === 0 || toolChoice === 'none') return undefined;
  if (isRecord(lastItem) && lastItem.type === 'function_call_output') return undefined;
  if (isRecord(toolChoice) && toolChoice.type === 'function' && typeof toolChoice.name === 'string') {
    return functions.find((tool) => tool.name === toolChoice.name);
  }
  return functions[0];
}

/**
 * `text.format`: `text`, `json_object`, or `json_schema` with a `name` and a `schema` object, both required
 * (openai 7.59 `ResponseFormatTextConfig`, `ResponseFormatTextJSONSchemaConfig`). GUESS: Azure's v1 surface
 * words the refusals as OpenAI does, like the other 400s in this file.
 */
function responseFormatOf(text: unknown): ReplyRequest['responseFormat'] | ResponsesError {
  if (text === undefined || text === null) return { type: 'text' };
  if (!isRecord(text)) return fail("Invalid type for 'text': expected an object.", 'text', 'invalid_type');
  const format = text.format;
  if (format === undefined || format === null) return { type: 'text' };
  if (!isRecord(format)) {
    return fail("Invalid type for 'text.format': expected an object.", 'text.format', 'invalid_type');
  }
  switch (format.type) {
    case 'text':
    case 'json_object':
      return { type: format.type };
    case 'json_schema':
      if (typeof format.name !== 'string' || format.name === '') {
        return fail(
          "Missing required parameter: 'text.format.name'.",
          'text.format.name',
          'missing_required_parameter',
        );
      }
      if (!isRecord(format.schema)) {
        return fail(
          "Missing required parameter: 'text.format.schema'.",
          'text.format.schema',
          'missing_required_parameter',
        );
      }
      return { type: 'json_schema', schema: format.schema };
    default:
      return fail(
        `Invalid value: '${String(format.type)}'. Supported values are: 'text', 'json_schema', and 'json_object'.`,
        'text.format.type',
        'invalid_value',
      );
  }
}

/** Validates a Responses body the way the service does for the fields the emulator reads. */
export function parseResponsesRequest(body: unknown): ResponsesRequest | ResponsesError {
  if (!isRecord(body)) return fail('Invalid body: expected a JSON object.', null, null);
  // NOTE: OpenAI's wording for an unknown key; GUESS (3p): Azure's v1 surface answers the same way.
  const unknown = Object.keys(body).find((key) => !KNOWN_KEYS.has(key));
  if (unknown !== undefined) return fail(`Unknown parameter: '${unknown}'.`, unknown, 'unknown_parameter');

  const messages: ReplyMessage[] = [];
  const input = body.input;
  if (typeof input === 'string') messages.push({ role: 'user', text: input });
  else if (Array.isArray(input)) {
    for (const [index, item] of input.entries()) {
      if (!isRecord(item))
        return fail(`Invalid type for 'input[${index}]'.`, `input[${index}]`, 'invalid_type');
      const message = itemMessage(item, index);
      if (isResponsesError(message)) return message;
      messages.push(message);
    }
  } else if (input !== undefined) {
    return fail("Invalid type for 'input': expected a string or an array.", 'input', 'invalid_type');
  }
  if (messages.length === 0 && typeof body.instructions !== 'string') {
    return fail("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  }

  const max = body.max_output_tokens;
  if (max !== undefined && max !== null) {
    if (typeof max !== 'number' || !Number.isInteger(max)) {
      return fail(
        "Invalid type for 'max_output_tokens': expected an integer.",
        'max_output_tokens',
        'invalid_type',
      );
    }
    if (max < MIN_OUTPUT_TOKENS) {
      return fail(
        `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= ${MIN_OUTPUT_TOKENS}, but got ${max} instead.`,
        'max_output_tokens',
        'integer_below_min_value',
      );
    }
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    return fail("Invalid type for 'stream': expected a boolean.", 'stream', 'invalid_type');
  }
  const functions = functionTools(body.tools);
  if (isResponsesError(functions)) return functions;
  const responseFormat = responseFormatOf(body.text);
  if (isResponsesError(responseFormat)) return responseFormat;
  const last = Array.isArray(input) ? (input as unknown[]).at(-1) : undefined;

  return {
    model: typeof body.model === 'string' ? body.model : undefined,
    messages,
    instructions: typeof body.instructions === 'string' ? body.instructions : null,
    maxOutputTokens: typeof max === 'number' ? max : null,
    stream: body.stream === true,
    store: body.store !== false,
    functions,
    call: chosenFunction(functions, body.tool_choice, last),
    responseFormat,
    echo: {
      max_output_tokens: typeof max === 'number' ? max : null,
      metadata: isRecord(body.metadata) ? body.metadata : {},
      parallel_tool_calls: body.parallel_tool_calls !== false,
      temperature: typeof body.temperature === 'number' ? body.temperature : 1,
      text: isRecord(body.text) ? body.text : { format: { type: 'text' } },
      tool_choice: body.tool_choice ?? 'auto',
      tools: Array.isArray(body.tools) ? body.tools : [],
      top_p: typeof body.top_p === 'number' ? body.top_p : 1,
      truncation: typeof body.truncation === 'string' ? body.truncation : 'disabled',
      user: typeof body.user === 'string' ? body.user : null,
      reasoning: isRecord(body.reasoning) ? body.reasoning : null,
    },
  };
}

/** chars/4 per item plus 3 of framing, and the instructions, as the chat emulator estimates messages. */
export function estimateInputTokens(request: ResponsesRequest): number {
  const instructions = request.instructions === null ? 0 : Math.ceil(request.instructions.length / 4) + 3;
  return request.messages.reduce((sum, item) => sum + Math.ceil(item.text.length / 4) + 3, 3 + instructions);
}

export function responsesFilterTrigger(request: ResponsesRequest): 'prompt' | 'completion' | undefined {
  const userText = request.messages.filter((item) => item.role === 'user').map((item) => item.text);
  if (userText.some((text) => text.includes(BLOCK_PROMPT))) return 'prompt';
  if (userText.some((text) => text.includes(BLOCK_COMPLETION))) return 'completion';
  return undefined;
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const randomId = (prefix: string, length = 48): string =>
  `${prefix}_${Array.from(randomBytes(length), (byte) => ID_ALPHABET[byte % ID_ALPHABET.length] ?? 'a').join('')}`;

export interface GeneratedResponse {
  id: string;
  createdAt: number;
  model: string;
  inputTokens: number;
  /** The answer's tokens (text), or the call's arguments split into chunks. */
  tokens: string[];
  call: { itemId: string; callId: string; name: string; arguments: string } | undefined;
  messageId: string;
  incomplete: 'max_output_tokens' | 'content_filter' | undefined;
  request: ResponsesRequest;
}

export function generateResponse(
  request: ResponsesRequest,
  model: CatalogModel,
  inputTokens: number,
): GeneratedResponse {
  const base = {
    id: randomId('resp'),
    createdAt: Math.floor(Date.now() / 1000),
    model: `${model.name}-${model.version}`,
    inputTokens,
    messageId: randomId('msg'),
    request,
  };
  if (request.call) {
    const planned = planToolCall(request.messages, request.call);
    return {
      ...base,
      tokens: textTokens(planned.arguments, true),
      call: { itemId: randomId('fc'), callId: planned.id, name: planned.name, arguments: planned.arguments },
      incomplete: undefined,
    };
  }
  const tokens = textTokens(planText(request, model.name), request.responseFormat.type !== 'text');
  if (responsesFilterTrigger(request) === 'completion') {
    return {
      ...base,
      tokens: tokens.slice(0, TOKENS_BEFORE_COMPLETION_FILTER),
      call: undefined,
      incomplete: 'content_filter',
    };
  }
  const limit = request.maxOutputTokens ?? Number.POSITIVE_INFINITY;
  return {
    ...base,
    tokens: tokens.slice(0, limit),
    call: undefined,
    incomplete: tokens.length > limit ? 'max_output_tokens' : undefined,
  };
}

function outputItem(
  response: GeneratedResponse,
  status: 'in_progress' | 'completed' | 'incomplete',
): Record<string, unknown> {
  if (response.call) {
    return {
      id: response.call.itemId,
      type: 'function_call',
      status,
      arguments: status === 'in_progress' ? '' : response.call.arguments,
      call_id: response.call.callId,
      name: response.call.name,
    };
  }
  return {
    id: response.messageId,
    type: 'message',
    status,
    content: status === 'in_progress' ? [] : [textPart(response.tokens.join(''))],
    role: 'assistant',
  };
}

const textPart = (text: string): Record<string, unknown> => ({
  type: 'output_text',
  annotations: [],
  logprobs: [],
  text,
});

function outputTokens(response: GeneratedResponse): number {
  return response.call ? Math.ceil(response.call.arguments.length / 4) + 5 : response.tokens.length;
}

type Phase = 'created' | 'done';

/** The `response` object, in progress (created) or finished (done); its keys follow Microsoft's example. */
export function responseObject(response: GeneratedResponse, phase: Phase = 'done'): Record<string, unknown> {
  const status = phase === 'created' ? 'in_progress' : response.incomplete ? 'incomplete' : 'completed';
  const output = outputTokens(response);
  return {
    id: response.id,
    object: 'response',
    created_at: response.createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: phase === 'done' && response.incomplete ? { reason: response.incomplete } : null,
    instructions: response.request.instructions,
    model: response.model,
    output:
      phase === 'created' ? [] : [outputItem(response, response.incomplete ? 'incomplete' : 'completed')],
    previous_response_id: null,
    service_tier: 'default',
    store: response.request.store,
    ...response.request.echo,
    usage:
      phase === 'created'
        ? null
        : {
            input_tokens: response.inputTokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: output,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: response.inputTokens + output,
          },
  };
}

/**
 * The streamed events in the order the service sends them (openai 7.59 `ResponseStreamEvent`): created,
 * in_progress, output_item.added, then for text content_part.added / output_text.delta… / output_text.done /
 * content_part.done, for a function call function_call_arguments.delta… / .done, then output_item.done and
 * completed (or incomplete). Each is `event: <type>` plus `data: <json>` with a growing `sequence_number`; there
 * is no `[DONE]`.
 */
export function responseEvents(response: GeneratedResponse): SseEvent[] {
  const events: SseEvent[] = [];
  const push = (type: string, fields: Record<string, unknown>, content = false): void => {
    events.push({
      event: type,
      data: JSON.stringify({ type, sequence_number: events.length, ...fields }),
      content,
    });
  };
  const itemId = response.call ? response.call.itemId : response.messageId;
  const where = { item_id: itemId, output_index: 0 };
  const finalStatus = response.incomplete ? 'incomplete' : 'completed';
  push('response.created', { response: responseObject(response, 'created') });
  push('response.in_progress', { response: responseObject(response, 'created') });
  push('response.output_item.added', { output_index: 0, item: outputItem(response, 'in_progress') });
  if (response.call) {
    for (const delta of response.tokens)
      push('response.function_call_arguments.delta', { ...where, delta }, true);
    push('response.function_call_arguments.done', {
      ...where,
      name: response.call.name,
      arguments: response.call.arguments,
    });
  } else {
    const text = response.tokens.join('');
    const part = { ...where, content_index: 0 };
    push('response.content_part.added', { ...part, part: textPart('') });
    for (const delta of response.tokens)
      push('response.output_text.delta', { ...part, delta, logprobs: [] }, true);
    push('response.output_text.done', { ...part, text, logprobs: [] });
    push('response.content_part.done', { ...part, part: textPart(text) });
  }
  push('response.output_item.done', { output_index: 0, item: outputItem(response, finalStatus) });
  push(`response.${finalStatus}`, { response: responseObject(response) });
  return events;
}
