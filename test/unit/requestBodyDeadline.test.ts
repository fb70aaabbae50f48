import { describe, expect, it } from 'vitest';
import type { GatewayRequest } from '../../src/lib/http';
import { readJsonBody } from '../../src/lib/request/requestBody';

/** Bodies that never arrive whole: a client that stalls, and one whose connection goes mid-body. */

function request(body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): GatewayRequest {
  return {
    method: 'POST',
    url: 'http://localhost/api/chat/completions',
    headers: new Headers({ 'content-type': 'application/json', ...headers }),
    query: new URLSearchParams(),
    params: {},
    body,
  };
}

const encoder = new TextEncoder();

describe('reading a request body', () => {
  it('answers 408 request_timeout when the body stalls past the deadline, and stops reading it soon after', async () => {
    let cancelled = false;
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode('{"messages":'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const started = Date.now();
    await expect(readJsonBody(request(stalled), 1024, 200)).rejects.toMatchObject({
      status: 408,
      code: 'request_timeout',
    });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(cancelled).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(cancelled).toBe(true);
  });

  it('calls a body whose stream breaks the client going away (499), not a server error', async () => {
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode('{"messages":'));
        controller.error(new Error('aborted'));
      },
    });
    await expect(readJsonBody(request(broken), 1024, 5000)).rejects.toMatchObject({
      status: 499,
      code: 'client_closed_request',
    });
  });

  it('answers 413 at once for a body over the limit but keeps reading it to its end, so the answer is not cut off', async () => {
    const chunks = 8;
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === chunks) {
          controller.close();
          return;
        }
        pulled += 1;
        controller.enqueue(new Uint8Array(1024).fill(0x20));
      },
    });
    await expect(readJsonBody(request(body), 2048, 5000)).rejects.toMatchObject({ status: 413 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pulled).toBe(chunks);
  });
});
