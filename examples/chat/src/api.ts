import { sseData } from './sse';

/**
 * The gateway as the page sees it: the OpenAI HTTP API under `apiBaseUrl`, called with a bearer token.
 * Every failure becomes an ApiProblem that says what happened in words a user can act on.
 */

export interface ModelEntry {
  id: string;
  model: { name: string | null; version: string | null };
  capabilities: Record<string, boolean | number | string>;
  lifecycle_status: string | null;
  retirement_date: string | null;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  /** Omitted: the gateway's default deployment (AZURE_OPENAI_DEPLOYMENT). */
  model?: string;
  messages: ChatMessage[];
  /** Omitted: the deployment's own default. */
  max_tokens?: number;
}

export type ProblemKind =
  'unauthenticated' | 'forbidden' | 'rate_limited' | 'content_filter' | 'unreachable' | 'failed';

interface ErrorEnvelope {
  error: { message?: unknown; code?: unknown; content_filter_result?: unknown };
}

export class ApiProblem extends Error {
  constructor(
    readonly kind: ProblemKind,
    message: string,
    readonly details: {
      status?: number;
      code?: string;
      retryAfterSeconds?: number;
      requestId?: string;
      categories?: string[];
    } = {},
  ) {
    super(message);
    this.name = 'ApiProblem';
  }
}

/** How the stream ended: normally, at the token limit, or cut by the content filter. */
export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'function_call' | null;

export interface StreamHandlers {
  onText(text: string): void;
  onFinish(reason: FinishReason): void;
  onUsage(usage: { prompt_tokens: number; completion_tokens: number }): void;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isEnvelope = (value: unknown): value is ErrorEnvelope => isRecord(value) && isRecord(value.error);

/** Categories the content filter flagged, from Azure's `content_filter_result(s)` map. */
function flaggedCategories(result: unknown): string[] {
  if (!isRecord(result)) return [];
  return Object.entries(result)
    .filter(([, verdict]) => isRecord(verdict) && verdict.filtered === true)
    .map(([category, verdict]) =>
      isRecord(verdict) && typeof verdict.severity === 'string'
        ? `${category}: ${verdict.severity}`
        : category,
    );
}

function retryAfterSeconds(headers: Headers): number | undefined {
  const seconds = Number.parseFloat(headers.get('retry-after') ?? '');
  if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms / 1000)) : undefined;
}

/** Turns an error envelope (a response's or a stream's last event) into a problem. */
export function problemFrom(
  envelope: ErrorEnvelope,
  context: { status?: number; headers?: Headers } = {},
): ApiProblem {
  const { status, headers } = context;
  const message = typeof envelope.error.message === 'string' ? envelope.error.message : 'The request failed.';
  const code = typeof envelope.error.code === 'string' ? envelope.error.code : undefined;
  const requestId = headers?.get('x-request-id') ?? undefined;
  const base = {
    ...(status === undefined ? {} : { status }),
    ...(code === undefined ? {} : { code }),
    ...(requestId === undefined ? {} : { requestId }),
  };
  if (code === 'content_filter') {
    return new ApiProblem('content_filter', message, {
      ...base,
      categories: flaggedCategories(envelope.error.content_filter_result),
    });
  }
  if (status === 401) return new ApiProblem('unauthenticated', message, base);
  if (status === 403) return new ApiProblem('forbidden', message, base);
  if (status === 429 || code === 'rate_limited' || code === 'caller_rate_limited') {
    const wait = headers ? retryAfterSeconds(headers) : undefined;
    return new ApiProblem('rate_limited', message, {
      ...base,
      ...(wait === undefined ? {} : { retryAfterSeconds: wait }),
    });
  }
  return new ApiProblem('failed', message, base);
}

async function problemFromResponse(response: Response): Promise<ApiProblem> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const envelope: ErrorEnvelope = isEnvelope(body) ? body : { error: { message: `HTTP ${response.status}` } };
  return problemFrom(envelope, { status: response.status, headers: response.headers });
}

export class GatewayClient {
  constructor(
    private readonly apiBaseUrl: string,
    private readonly token: () => Promise<string>,
  ) {}

  private async call(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${await this.token()}`);
    let response: Response;
    try {
      response = await fetch(`${this.apiBaseUrl.replace(/\/+$/, '')}${path}`, { ...init, headers });
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error;
      // NOTE: the browser hides why a request failed; a CORS refusal and a stopped server look alike.
      throw new ApiProblem(
        'unreachable',
        `Could not reach the API at ${this.apiBaseUrl}. Check that it is running and that it allows this page’s origin (${window.location.origin}) in its CORS settings.`,
      );
    }
    if (!response.ok) throw await problemFromResponse(response);
    return response;
  }

  async models(): Promise<ModelEntry[]> {
    const response = await this.call('/models');
    const body = (await response.json()) as { data?: ModelEntry[] };
    return body.data ?? [];
  }

  /** Streams a completion, calling the handlers as each event arrives; resolves when the stream ends. */
  async streamChat(request: ChatRequest, handlers: StreamHandlers, signal: AbortSignal): Promise<void> {
    const response = await this.call('/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ ...request, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
    if (!response.body) throw new ApiProblem('failed', 'The API answered without a body.');
    for await (const data of sseData(response.body)) {
      if (data === '[DONE]') return;
      const event = JSON.parse(data) as unknown;
      if (isEnvelope(event)) throw problemFrom(event, { headers: response.headers });
      if (!isRecord(event)) continue;
      const usage = event.usage;
      if (
        isRecord(usage) &&
        typeof usage.prompt_tokens === 'number' &&
        typeof usage.completion_tokens === 'number'
      ) {
        handlers.onUsage({ prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens });
      }
      const choice = Array.isArray(event.choices) ? (event.choices[0] as unknown) : undefined;
      if (!isRecord(choice)) continue;
      const delta = choice.delta;
      if (isRecord(delta) && typeof delta.content === 'string' && delta.content !== '')
        handlers.onText(delta.content);
      if (typeof choice.finish_reason === 'string') handlers.onFinish(choice.finish_reason as FinishReason);
    }
    throw new ApiProblem('failed', 'The stream ended before it was complete.');
  }
}
