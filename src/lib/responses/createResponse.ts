import { APIError, type OpenAI } from 'openai';
import type { ResponseCreateParamsNonStreaming } from 'openai/resources/responses/responses';
import type { CallerLimiter } from '../caller/callerLimits';
import { admitGeneration, tokensForCharacters, type Usage } from '../caller/tokenCharge';
import type { ChatResult, ChatSummary } from '../chat/completeChat';
import { relayGeneration } from '../chat/relayGeneration';
import type { Config } from '../config';
import { ApiError } from '../errors';
import { jsonResponse } from '../http';
import { deploymentResolver } from '../upstream/deployments';
import type { SseProtocol } from '../upstream/sseRelay';
import { startUpstreamCall } from '../upstream/upstreamCall';
import { toApiError } from '../upstream/upstreamError';
import type { ResponsesRequest } from './responsesRequest';

export interface ResponsesDeps {
  config: Config;
  client: OpenAI;
  limiter: CallerLimiter;
}

export type CreateResponse = (
  request: ResponsesRequest,
  callerKey: string,
  summary: ChatSummary,
) => Promise<ChatResult>;

interface ResponseUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

const toUsage = (usage: ResponseUsage): Usage => ({
  prompt_tokens: usage.input_tokens,
  completion_tokens: usage.output_tokens,
  total_tokens: usage.total_tokens,
});

const TERMINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed', 'error']);

/**
 * Responses streams: `event: <type>` + `data: <json>` pairs that end with `response.completed`,
 * `response.incomplete`, `response.failed` or `error` (no `[DONE]`); usage is in the final response object.
 * A failure after the first byte becomes an `error` event that openai-node raises (its data has `error`) and
 * the Vercel AI SDK reads (`type: "error"` with `code` and `message`).
 */
export const responsesSseProtocol: SseProtocol = {
  observe(event) {
    const type = /^event:\s*(\S+)/m.exec(event)?.[1];
    if (type === undefined || !TERMINAL_EVENTS.has(type)) return { terminal: false };
    const data = /^data:\s*(.*)$/m.exec(event)?.[1];
    try {
      const parsed = JSON.parse(data ?? '') as { response?: { usage?: ResponseUsage | null } };
      const usage = parsed.response?.usage;
      return { terminal: true, usage: usage ? toUsage(usage) : undefined };
    } catch {
      return { terminal: true };
    }
  },
  errorEvent(error, sequence) {
    const body = error.toBody();
    const data = {
      type: 'error',
      sequence_number: sequence,
      code: body.error.code,
      message: body.error.message,
      param: body.error.param,
      error: body.error,
    };
    return `event: error\ndata: ${JSON.stringify(data)}\n\n`;
  },
};

/** Prompt estimate for Responses input: about four characters a token, plus a little per item. */
function estimateInputTokens(request: ResponsesRequest): number {
  const items = Array.isArray(request.input) ? request.input.length : 1;
  const characters = JSON.stringify(request.input ?? '').length + (request.instructions?.length ?? 0);
  return Math.ceil(characters / 4) + items * 4;
}

const upstreamRequestId = (headers: Headers): string | null =>
  headers.get('apim-request-id') ?? headers.get('x-request-id');

/**
 * Creates one validated Responses request for a caller: the same allow-list, caller limits, token cap, time
 * budget and stream relay as chat. `store` is always false upstream (see responsesRequest.ts).
 */
export function makeCreateResponse({ config, client, limiter }: ResponsesDeps): CreateResponse {
  const resolveDeployment = deploymentResolver(config.openai);

  return async (request, callerKey, summary) => {
    summary.streamed = request.stream === true;
    const deployment = resolveDeployment(request.model, summary);
    const maxOutputTokens = Math.min(
      request.max_output_tokens ?? config.limits.maxTokens,
      config.limits.maxTokens,
    );
    const { charge, releaseStream } = await admitGeneration(
      limiter,
      callerKey,
      {
        promptTokens: estimateInputTokens(request),
        completionCap: maxOutputTokens,
        choices: 1,
        expectedCompletionTokens: config.limits.expectedCompletionTokens,
      },
      request.stream === true,
    );

    // NOTE: the parser has validated every field; the SDK's types are stricter only about shapes it also accepts.
    const body = {
      ...request,
      model: deployment,
      store: false,
      max_output_tokens: maxOutputTokens,
    } as unknown as ResponseCreateParamsNonStreaming;
    const call = startUpstreamCall(config.upstream.timeoutMs, summary);
    const failed = (error: unknown): ApiError => {
      call.ended();
      releaseStream?.();
      // NOTE: an error answer from Azure generated nothing; a timeout or broken connection may have.
      if (error instanceof APIError && typeof error.status === 'number') charge.refund();
      return toApiError(error, { deployment, timedOut: call.timedOut, promptParam: 'input' });
    };

    if (!request.stream) {
      try {
        const { data, response } = await call.run(() =>
          client.responses.create(body, { signal: call.signal }).withResponse(),
        );
        call.ended();
        summary.upstreamRequestId = upstreamRequestId(response.headers);
        if (data.usage) {
          summary.promptTokens = data.usage.input_tokens;
          summary.completionTokens = data.usage.output_tokens;
          summary.chargedTokens = charge.settleUsage(toUsage(data.usage));
        } else {
          summary.chargedTokens = charge.settleCounted(tokensForCharacters(data.output_text.length));
        }
        // NOTE: output_text is a convenience the SDK adds to the parsed object; it is not part of the wire body.
        const { output_text: _derived, ...wire } = data;
        return jsonResponse(200, wire);
      } catch (error) {
        throw failed(error);
      }
    }

    let response: Response;
    try {
      response = await call.run(() =>
        client.responses.create({ ...body, stream: true }, { signal: call.signal }).asResponse(),
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
      protocol: responsesSseProtocol,
    });
  };
}
