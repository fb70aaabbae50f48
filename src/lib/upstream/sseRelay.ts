import type { ReadableStreamReadResult } from 'node:stream/web';
import type { Usage } from '../caller/tokenCharge';
import { ApiError } from '../errors';

/**
 * Relays an upstream server-sent-event body to the caller unchanged, each event as soon as it is complete, and
 * reads what the events say about tokens (Azure's usage, or the generated text when no usage comes). Reads are
 * pulled by the caller's side, so a slow reader slows the upstream instead of filling memory, and a caller who
 * leaves cancels the stream: `cancel()` aborts the upstream request and reports `cancelled`. Both hold in the
 * Functions worker only because the project patches the library's HTTP proxy (patches/, see
 * docs/decisions/patched-functions-http-proxy.md) to wait for `drain` and to cancel the body when the
 * connection closes. A failure after the first byte ends the stream with a final `data: {"error":…}` event
 * instead of throwing.
 */

export interface RelayOutcome {
  outcome: 'completed' | 'failed' | 'cancelled';
  error?: ApiError;
  usage?: Usage;
  events: number;
  /** Characters of generated text relayed (content, refusals, tool-call arguments): the charge when no usage came. */
  generatedCharacters: number;
}

export interface RelayOptions {
  /** Longest silence tolerated between upstream chunks. */
  idleTimeoutMs: number;
  /** Aborts the upstream request (on cancel, timeout or error). */
  abort: () => void;
  onDone: (outcome: RelayOutcome) => void;
  /** Drops the usage-only event: the gateway asked Azure for it, the caller did not. */
  dropUsageEvent?: boolean;
  /** The event dialect: how the stream ends and how a late failure is told. Default: chat. */
  protocol?: SseProtocol;
  /** Called once, when the first upstream chunk arrives. */
  onFirstChunk?: () => void;
}

/** What one SSE dialect means by its events. */
export interface SseProtocol {
  /** Looks at one complete event: does it end the stream (and what usage does it report, if it knows). */
  observe(event: string): { terminal: boolean; usage?: Usage | undefined };
  /** The final event reporting a failure after the first byte; `sequence` counts the events relayed. */
  errorEvent(error: ApiError, sequence: number): string;
}

/** The headers of every relayed stream; `x-accel-buffering` keeps proxies that honour it from buffering. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

const encoder = new TextEncoder();
const DONE_MARKER = 'data: [DONE]';

/** Chat completions: ends with `data: [DONE]`; a failure is `data: {"error":…}`. */
export const chatSseProtocol: SseProtocol = {
  observe: (event) => ({ terminal: event === DONE_MARKER }),
  errorEvent: (error) => `data: ${JSON.stringify(error.toBody())}\n\n`,
};

/** What a failed upstream read is reported as: silence is a 504, anything else a 502 (unless already mapped). */
function streamError(error: unknown, idle: boolean): ApiError {
  if (idle) return new ApiError(504, 'upstream_timeout', 'Azure OpenAI stopped sending the stream.');
  if (error instanceof ApiError) return error;
  return new ApiError(502, 'upstream_error', 'The Azure OpenAI stream ended unexpectedly.');
}

export function relaySse(
  upstream: ReadableStream<Uint8Array>,
  options: RelayOptions,
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let events = 0;
  let generatedCharacters = 0;
  let sawDone = false;
  let usage: Usage | undefined;
  let finished = false;
  let sawChunk = false;

  const outcome = (kind: RelayOutcome['outcome'], error?: ApiError): RelayOutcome => ({
    outcome: kind,
    ...(error ? { error } : {}),
    events,
    generatedCharacters,
    ...(usage ? { usage } : {}),
  });

  const finish = (result: RelayOutcome): void => {
    if (finished) return;
    finished = true;
    options.onDone(result);
  };

  const protocol = options.protocol ?? chatSseProtocol;

  /** Reads the complete events in `chunk` and returns the text to relay: whole events only. */
  const relayable = (chunk: Uint8Array): string => {
    pending += decoder.decode(chunk, { stream: true });
    let out = '';
    let boundary = pending.indexOf('\n\n');
    while (boundary !== -1) {
      const raw = pending.slice(0, boundary + 2);
      const event = raw.trim();
      pending = pending.slice(boundary + 2);
      boundary = pending.indexOf('\n\n');
      if (event.length === 0) continue;
      events++;
      const observed = protocol.observe(event);
      if (observed.terminal) sawDone = true;
      if (event === DONE_MARKER) {
        out += raw;
        continue;
      }
      const seen = inspect(event);
      generatedCharacters += seen.generatedCharacters;
      usage = observed.usage ?? seen.usage ?? usage;
      if (!(seen.usageOnly && options.dropUsageEvent)) out += raw;
    }
    return out;
  };

  const readWithTimeout = async (): Promise<ReadableStreamReadResult<Uint8Array>> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new IdleTimeout());
      }, options.idleTimeoutMs);
    });
    try {
      return await Promise.race([reader.read(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          // NOTE: events are relayed whole, so a pull that read only part of one reads on.
          for (;;) {
            const { done, value } = await readWithTimeout();
            if (done) break;
            if (!sawChunk) options.onFirstChunk?.();
            sawChunk = true;
            const text = relayable(value);
            if (text.length > 0) {
              controller.enqueue(encoder.encode(text));
              return;
            }
          }
          if (!sawDone) throw new PrematureEnd();
          controller.close();
          finish(outcome('completed'));
        } catch (caught) {
          options.abort();
          void reader.cancel().catch(() => undefined);
          const error = streamError(caught, caught instanceof IdleTimeout);
          // NOTE: a half-written event is never relayed, so the error event parses on its own.
          controller.enqueue(encoder.encode(protocol.errorEvent(error, events)));
          controller.close();
          finish(outcome('failed', error));
        }
      },
      cancel() {
        options.abort();
        void reader.cancel().catch(() => undefined);
        finish(outcome('cancelled'));
      },
    },
    { highWaterMark: 0 },
  );
}

export class IdleTimeout extends Error {
  override name = 'IdleTimeout';
}

export class PrematureEnd extends Error {
  override name = 'PrematureEnd';
}

interface Inspected {
  usage?: Usage;
  /** The chat usage chunk: no choices, only usage. */
  usageOnly: boolean;
  generatedCharacters: number;
}

interface ChunkShape {
  usage?: Partial<Usage> | null;
  choices?: {
    delta?: {
      content?: unknown;
      refusal?: unknown;
      tool_calls?: { function?: { arguments?: unknown } }[];
    };
  }[];
  type?: unknown;
  delta?: unknown;
  response?: { usage?: { input_tokens?: number; output_tokens?: number; total_tokens?: number } | null };
}

const length = (value: unknown): number => (typeof value === 'string' ? value.length : 0);

/**
 * What one event says about tokens: Azure's usage (chat chunks, or a Responses `response.completed` event)
 * and how much generated text it carries. An event that is not JSON says nothing.
 */
function inspect(event: string): Inspected {
  let parsed: ChunkShape;
  try {
    // NOTE: Responses events carry an `event:` line before their `data:` line.
    parsed = JSON.parse(/^data:\s*(.*)$/m.exec(event)?.[1] ?? '') as ChunkShape;
  } catch {
    return { usageOnly: false, generatedCharacters: 0 };
  }
  let generated = 0;
  for (const choice of parsed.choices ?? []) {
    const delta = choice.delta;
    generated += length(delta?.content) + length(delta?.refusal);
    for (const call of delta?.tool_calls ?? []) generated += length(call.function?.arguments);
  }
  if (typeof parsed.type === 'string' && parsed.type.endsWith('.delta')) generated += length(parsed.delta);
  const usage = toUsage(parsed);
  return {
    ...(usage ? { usage } : {}),
    usageOnly: usage !== undefined && Array.isArray(parsed.choices) && parsed.choices.length === 0,
    generatedCharacters: generated,
  };
}

function toUsage(parsed: ChunkShape): Usage | undefined {
  const chat = parsed.usage;
  if (chat && typeof chat.prompt_tokens === 'number' && typeof chat.completion_tokens === 'number') {
    return {
      prompt_tokens: chat.prompt_tokens,
      completion_tokens: chat.completion_tokens,
      total_tokens: chat.total_tokens ?? chat.prompt_tokens + chat.completion_tokens,
    };
  }
  const responses = parsed.response?.usage;
  if (
    responses &&
    typeof responses.input_tokens === 'number' &&
    typeof responses.output_tokens === 'number'
  ) {
    return {
      prompt_tokens: responses.input_tokens,
      completion_tokens: responses.output_tokens,
      total_tokens: responses.total_tokens ?? responses.input_tokens + responses.output_tokens,
    };
  }
  return undefined;
}
