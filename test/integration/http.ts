import type { Stack } from '../support/stack';

/** Small fetch helpers for the end-to-end tests: every call goes over real HTTP to the stack's host. */

export interface ErrorEnvelope {
  error: { message: string; type: string; code: string; param: string | null; [extra: string]: unknown };
}

/** `GET {apiBaseUrl}{path}` as the stack's caller. */
export function get(stack: Stack, path: string, token: string = stack.callerToken): Promise<Response> {
  return fetch(`${stack.apiBaseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

/** `POST {apiBaseUrl}/chat/completions` with `body` as JSON, as the stack's caller. */
export function postChat(stack: Stack, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${stack.apiBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.callerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A small chat request; `extra` overrides or adds fields. */
export function hello(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 4, ...extra };
}

export async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** The body of an error response, checked to be the gateway's one error shape. */
export async function errorOf(response: Response): Promise<ErrorEnvelope['error']> {
  const body = await json<ErrorEnvelope>(response);
  return body.error;
}

export interface TimedEvent {
  /** The text after `data: `. */
  data: string;
  /** performance.now() when the chunk that completed this event arrived. */
  at: number;
}

/**
 * Reads a server-sent-event body chunk by chunk, stamping each complete `data:` event with the arrival time
 * of the network chunk that completed it. Stops after `timeoutMs` with an error rather than hanging.
 */
export async function readTimedEvents(response: Response, timeoutMs = 10_000): Promise<TimedEvent[]> {
  if (!response.body) throw new Error('the response has no body');
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: TimedEvent[] = [];
  let pending = '';
  const state = { timedOut: false };
  const timer = setTimeout(() => {
    state.timedOut = true;
    void reader.cancel();
  }, timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const at = performance.now();
      pending += decoder.decode(value, { stream: true });
      let boundary = pending.indexOf('\n\n');
      while (boundary !== -1) {
        const event = pending.slice(0, boundary).trim();
        pending = pending.slice(boundary + 2);
        if (event.startsWith('data: ')) events.push({ data: event.slice('data: '.length), at });
        else if (event.length > 0) throw new Error(`not a data event: ${event}`);
        boundary = pending.indexOf('\n\n');
      }
    }
  } finally {
    clearTimeout(timer);
  }
  if (state.timedOut) throw new Error(`the stream did not end within ${timeoutMs} ms`);
  if (pending.trim().length > 0) throw new Error(`the stream ended inside an event: ${pending}`);
  return events;
}

/** Polls `condition` every 50 ms until it holds or `timeoutMs` passes; answers whether it held. */
export async function eventually(condition: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** Anything that looks like a JWT (three base64url parts, the first a JSON header). */
export const jwtPattern = /eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/;
