import { APIError, type OpenAI } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
} from 'openai/resources/chat/completions';
import type { CallerLimiter } from '../caller/callerLimits';
import {
  admitGeneration,
  estimatePromptTokens,
  tokensForCharacters,
  type TokenCharge,
} from '../caller/tokenCharge';
import type { ChatRequest } from './chatRequest';
import type { Config } from '../config';
import { ApiError } from '../errors';
import { jsonResponse, type GatewayResponse } from '../http';
import { deploymentResolver } from '../upstream/deployments';
import type { RelayOutcome } from '../upstream/sseRelay';
import { relayGeneration } from './relayGeneration';
import { startUpstreamCall } from '../upstream/upstreamCall';
import { toApiError } from '../upstream/upstreamError';

/** What a chat call adds to the request's summary log line (never content). */
export interface ChatSummary {
  deployment?: string;
  streamed?: boolean;
  promptTokens?: number;
  completionTokens?: number;
  /** Tokens the caller's per-minute limit was charged once the request settled. */
  chargedTokens?: number;
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
  const resolveDeployment = deploymentResolver(config.openai);

  return async (request, callerKey, summary) => {
    summary.streamed = request.stream === true;
    const deployment = resolveDeployment(request.model, summary);

    const cap = completionCap(request, config.limits.maxTokens);
    const { charge, releaseStream } = await admitGeneration(
      limiter,
      callerKey,
      {
        promptTokens: estimatePromptTokens(request.messages, [
          request.tools,
          request.functions,
          request.response_format,
        ]),
        completionCap: cap.value,
        choices: request.n ?? 1,
        expectedCompletionTokens: config.limits.expectedCompletionTokens,
      },
      request.stream === true,
    );

    // NOTE: the schema has validated every field; the SDK's types are stricter only about shapes it also accepts.
    const body = {
      ...withoutCaps(request),
      [cap.field]: cap.value,
      model: deployment,
    } as unknown as ChatCompletionCreateParamsNonStreaming;
    const call = startUpstreamCall(config.upstream.timeoutMs, summary);
    const failed = (error: unknown): ApiError => {
      call.ended();
      releaseStream?.();
      settleFailure(charge, error);
      return toApiError(error, { deployment, timedOut: call.timedOut });
    };

    if (!request.stream) {
      try {
        const { data, response } = await call.run(() =>
          client.chat.completions.create(body, { signal: call.signal }).withResponse(),
        );
        call.ended();
        summary.upstreamRequestId = upstreamRequestId(response.headers);
        recordUsage(summary, data);
        summary.chargedTokens = data.usage
          ? charge.settleUsage(data.usage)
          : charge.settleCounted(tokensForCharacters(generatedCharacters(data)));
        return jsonResponse(200, data);
      } catch (error) {
        throw failed(error);
      }
    }

    let response: Response;
    try {
      response = await call.run(() =>
        client.chat.completions
          .create(
            {
              ...body,
              stream: true,
              // NOTE: always asked for, so the stream is charged by Azure's count; dropped again unless the caller asked.
              stream_options: { ...request.stream_options, include_usage: true },
            },
            { signal: call.signal },
          )
          .asResponse(),
      );
      if (!response.body) throw new ApiError(502, 'upstream_error', 'Azure OpenAI returned an empty stream.');
    } catch (error) {
      throw failed(error);
    }
    call.answered();
    summary.upstreamRequestId = upstreamRequestId(response.headers);
    return relayGeneration(response.body, {
      call,
      summary,
      charge,
      releaseStream,
      idleTimeoutMs: config.upstream.streamIdleTimeoutMs,
      dropUsageEvent: request.stream_options?.include_usage !== true,
    });
  };
}

/** The completion cap every upstream request carries, in the field the caller used. */
export interface CompletionCap {
  field: 'max_tokens' | 'max_completion_tokens';
  value: number;
}

/**
 * min(requested, LIMIT_MAX_TOKENS), or LIMIT_MAX_TOKENS when the caller set none, so no request is uncapped.
 * `max_tokens` is kept only when the caller used it alone; otherwise `max_completion_tokens`, which reasoning
 * models require and the others accept.
 */
export function completionCap(
  request: Pick<ChatRequest, 'max_tokens' | 'max_completion_tokens'>,
  limit: number,
): CompletionCap {
  if (request.max_completion_tokens != null) {
    return { field: 'max_completion_tokens', value: Math.min(request.max_completion_tokens, limit) };
  }
  if (request.max_tokens != null) return { field: 'max_tokens', value: Math.min(request.max_tokens, limit) };
  return { field: 'max_completion_tokens', value: limit };
}

function withoutCaps(request: ChatRequest): Omit<ChatRequest, 'max_tokens' | 'max_completion_tokens'> {
  const rest: Partial<ChatRequest> = { ...request };
  delete rest.max_tokens;
  delete rest.max_completion_tokens;
  return rest as Omit<ChatRequest, 'max_tokens' | 'max_completion_tokens'>;
}

/**
 * An answer from Azure with an error status generated nothing: refund. Anything else (a timeout, a broken
 * connection) may have generated tokens Azure counts, so the estimate stays charged.
 */
function settleFailure(charge: TokenCharge, error: unknown): void {
  if (error instanceof APIError && typeof error.status === 'number') charge.refund();
}

function generatedCharacters(completion: ChatCompletion): number {
  let characters = 0;
  for (const choice of completion.choices) {
    characters += choice.message.content?.length ?? 0;
    for (const call of choice.message.tool_calls ?? []) {
      if (call.type === 'function') characters += call.function.arguments.length;
    }
  }
  return characters;
}

function recordUsage(summary: ChatSummary, source: Pick<ChatCompletion, 'usage'>): void {
  if (!source.usage) return;
  summary.promptTokens = source.usage.prompt_tokens;
  summary.completionTokens = source.usage.completion_tokens;
}
