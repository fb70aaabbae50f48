import type OpenAI from 'openai';
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
} from 'openai/resources/chat/completions';
import type { CallerLimiter } from '../caller/callerLimits';
import { estimatePromptTokens } from '../caller/callerLimits';
import type { ChatRequest } from './chatRequest';
import type { Config } from '../config';
import { ApiError } from '../errors';
import { jsonResponse, type GatewayResponse } from '../http';
import { upstreamAttempts, upstreamDeadline } from '../upstream/openaiClient';
import { relaySse, type RelayOutcome } from '../upstream/sseRelay';
import { toApiError } from '../upstream/upstreamError';

/** What a chat call adds to the request's summary log line (never content). */
export interface ChatSummary {
  deployment?: string;
  streamed?: boolean;
  promptTokens?: number;
  completionTokens?: number;
  upstreamRequestId?: string | null;
  /** Retries the SDK made inside the upstream call. */
  retries?: number;
  /** The upstream call's duration, to the end of its stream when streamed. */
  upstreamMs?: number;
  /** From issuing the upstream request to its stream's first chunk. */
  firstChunkMs?: number;
}

export interface ChatResult extends GatewayResponse {
  /** Settles when a streamed body has ended, however it ended. */
  streamDone?: Promise<RelayOutcome>;
}

export interface ChatDeps {
  config: Config;
  client: OpenAI;
  limiter: CallerLimiter;
}

const upstreamRequestId = (headers: Headers): string | null =>
  headers.get('apim-request-id') ?? headers.get('x-request-id');

/** Completes one validated chat request for a caller: limits, the upstream call, and the relay of a stream. */
export type CompleteChat = (
  request: ChatRequest,
  callerKey: string,
  summary: ChatSummary,
) => Promise<ChatResult>;

export function makeCompleteChat({ config, client, limiter }: ChatDeps): CompleteChat {
  const allowed = new Set(config.openai.allowedDeployments);

  return async (request, callerKey, summary) => {
    const deployment = request.model ?? config.openai.deployment;
    summary.deployment = deployment;
    summary.streamed = request.stream === true;
    if (!allowed.has(deployment)) {
      throw new ApiError(
        404,
        'model_not_found',
        `The model "${deployment}" does not exist or is not available through this API.`,
        {
          param: 'model',
        },
      );
    }

    const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? config.limits.maxTokens;
    const releaseStream = request.stream ? limiter.openStream(callerKey) : undefined;
    try {
      limiter.charge(callerKey, estimatePromptTokens(request.messages) + maxTokens * (request.n ?? 1));
    } catch (error) {
      releaseStream?.();
      throw error;
    }

    // NOTE: the schema has validated every field; the SDK's types are stricter only about shapes it also accepts.
    const body = { ...request, model: deployment } as unknown as ChatCompletionCreateParamsNonStreaming;
    const abort = new AbortController();
    let timedOut = false;
    const deadline = Date.now() + config.upstream.timeoutMs;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, config.upstream.timeoutMs);
    const attempts = { count: 0 };
    const upstreamStarted = performance.now();
    const upstream = <T>(call: () => Promise<T>): Promise<T> =>
      upstreamAttempts.run(attempts, () => upstreamDeadline.run(deadline, call));
    const upstreamEnded = (): void => {
      summary.upstreamMs = Math.round(performance.now() - upstreamStarted);
      summary.retries = Math.max(0, attempts.count - 1);
    };

    try {
      if (!request.stream) {
        const { data, response } = await upstream(() =>
          client.chat.completions.create(body, { signal: abort.signal }).withResponse(),
        );
        upstreamEnded();
        summary.upstreamRequestId = upstreamRequestId(response.headers);
        recordUsage(summary, data);
        return jsonResponse(200, data);
      }

      const response = await upstream(() =>
        client.chat.completions.create({ ...body, stream: true }, { signal: abort.signal }).asResponse(),
      );
      summary.upstreamRequestId = upstreamRequestId(response.headers);
      if (!response.body) throw new ApiError(502, 'upstream_error', 'Azure OpenAI returned an empty stream.');
      clearTimeout(timer);
      let settle: (outcome: RelayOutcome) => void = () => undefined;
      const streamDone = new Promise<RelayOutcome>((resolve) => (settle = resolve));
      const stream = relaySse(response.body, {
        idleTimeoutMs: config.upstream.streamIdleTimeoutMs,
        abort: () => {
          abort.abort();
        },
        toError: (error, idle) =>
          idle
            ? new ApiError(504, 'upstream_timeout', 'Azure OpenAI stopped sending the stream.')
            : error instanceof ApiError
              ? error
              : new ApiError(502, 'upstream_error', 'The Azure OpenAI stream ended unexpectedly.'),
        onFirstChunk: () => {
          summary.firstChunkMs = Math.round(performance.now() - upstreamStarted);
        },
        onDone: (outcome) => {
          upstreamEnded();
          releaseStream?.();
          if (outcome.usage) recordUsage(summary, outcome);
          settle(outcome);
        },
      });
      return {
        status: 200,
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          'x-accel-buffering': 'no',
        },
        body: stream,
        streamDone,
      };
    } catch (error) {
      upstreamEnded();
      clearTimeout(timer);
      releaseStream?.();
      throw toApiError(error, { deployment, timedOut });
    } finally {
      if (!request.stream) clearTimeout(timer);
    }
  };
}

function recordUsage(summary: ChatSummary, source: Pick<ChatCompletion, 'usage'>): void {
  if (!source.usage) return;
  summary.promptTokens = source.usage.prompt_tokens;
  summary.completionTokens = source.usage.completion_tokens;
}
