const encoder = new TextEncoder();

/** One step of a fake upstream stream: wait `afterMs`, then send `text` or break the connection with `fail`. */
export interface SseStep {
  afterMs?: number;
  text?: string;
  fail?: Error;
}

/** `data: …` framing of one server-sent event, JSON-encoding anything but a string. */
export const sseEvent = (data: unknown): string =>
  `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

/**
 * A fake Azure OpenAI answering every request with an SSE body written step by step (on a timer when a
 * step has `afterMs`), the way Azure writes a stream: the network edge for in-process gateway tests. The body
 * of each request it receives is appended to `sentBodies`; `headers` join the response's.
 */
export function sseUpstream(
  steps: readonly (SseStep | string)[],
  sentBodies: string[] = [],
  headers: Record<string, string> = {},
): typeof fetch {
  return (_input, init) => {
    sentBodies.push(typeof init?.body === 'string' ? init.body : '');
    let index = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = steps[index++];
        if (next === undefined) {
          controller.close();
          return;
        }
        const step = typeof next === 'string' ? { text: next } : next;
        if (step.afterMs !== undefined) await new Promise((resolve) => setTimeout(resolve, step.afterMs));
        if (step.fail) controller.error(step.fail);
        else if (step.text !== undefined) controller.enqueue(encoder.encode(step.text));
      },
    });
    return Promise.resolve(
      new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', ...headers } }),
    );
  };
}
