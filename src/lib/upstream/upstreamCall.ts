import { upstreamAttempts, upstreamDeadline } from './openaiClient';

/**
 * One generating call to Azure OpenAI, as chat and Responses make it: a time budget (UPSTREAM_TIMEOUT_MS) that
 * bounds the wait for Azure's answer, retries included, and one abort for everything that ends the call early.
 * Once a stream's head has arrived the budget no longer applies (STREAM_IDLE_TIMEOUT_MS does, in the relay).
 */
export interface UpstreamCall {
  /** Aborted at the deadline (until `answered`) or by `abort()`. */
  readonly signal: AbortSignal;
  /** Runs the SDK call within the budget, counting its attempts. */
  run: <T>(call: () => Promise<T>) => Promise<T>;
  /** The stream's head has arrived: the deadline no longer applies. */
  answered: () => void;
  /** Ends the call now (the caller left, the stream failed or went idle). */
  abort: () => void;
  /** Whether the deadline ended it. */
  readonly timedOut: boolean;
  /** Milliseconds since the call started. */
  elapsedMs: () => number;
  /** Records the call's duration and retries in the summary, and stops the deadline. Idempotent. */
  ended: () => void;
}

/** The fields of a request's summary line an upstream call fills in. */
export interface UpstreamCallSummary {
  upstreamMs?: number;
  retries?: number;
}

export function startUpstreamCall(timeoutMs: number, summary: UpstreamCallSummary): UpstreamCall {
  const controller = new AbortController();
  const started = performance.now();
  const deadlineAt = Date.now() + timeoutMs;
  const attempts = { count: 0 };
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const stopDeadline = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };
  let endedAlready = false;
  return {
    signal: controller.signal,
    run: (call) => upstreamAttempts.run(attempts, () => upstreamDeadline.run(deadlineAt, call)),
    answered: stopDeadline,
    abort: () => {
      controller.abort();
    },
    get timedOut() {
      return timedOut;
    },
    elapsedMs: () => performance.now() - started,
    ended: () => {
      stopDeadline();
      if (endedAlready) return;
      endedAlready = true;
      summary.upstreamMs = Math.round(performance.now() - started);
      summary.retries = Math.max(0, attempts.count - 1);
    },
  };
}
