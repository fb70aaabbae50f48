import { settleStream, type TokenCharge } from '../caller/tokenCharge';
import { relaySse, SSE_HEADERS, type RelayOutcome, type SseProtocol } from '../upstream/sseRelay';
import type { UpstreamCall } from '../upstream/upstreamCall';
import type { ChatResult, ChatSummary } from './completeChat';

/**
 * The caller's side of a streamed generation, chat or Responses: the upstream body relayed as it arrives, and
 * when the stream ends however it ends, the call closed, the stream slot freed, the tokens settled and the
 * usage written to the request's summary.
 */
export function relayGeneration(
  body: ReadableStream<Uint8Array>,
  options: {
    call: UpstreamCall;
    summary: ChatSummary;
    charge: TokenCharge;
    releaseStream: (() => void) | undefined;
    idleTimeoutMs: number;
    protocol?: SseProtocol;
    dropUsageEvent?: boolean;
  },
): ChatResult {
  const { call, summary, charge, releaseStream } = options;
  let done: (outcome: RelayOutcome) => void = () => undefined;
  const streamDone = new Promise<RelayOutcome>((resolve) => (done = resolve));
  const stream = relaySse(body, {
    idleTimeoutMs: options.idleTimeoutMs,
    ...(options.protocol ? { protocol: options.protocol } : {}),
    ...(options.dropUsageEvent === undefined ? {} : { dropUsageEvent: options.dropUsageEvent }),
    abort: call.abort,
    onFirstChunk: () => {
      summary.firstChunkMs = Math.round(call.elapsedMs());
    },
    onDone: (outcome) => {
      call.ended();
      releaseStream?.();
      if (outcome.usage) {
        summary.promptTokens = outcome.usage.prompt_tokens;
        summary.completionTokens = outcome.usage.completion_tokens;
      }
      summary.chargedTokens = settleStream(charge, outcome);
      done(outcome);
    },
  });
  return { status: 200, headers: { ...SSE_HEADERS }, body: stream, streamDone };
}
