import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';

/** Every upstream row of the error contract, end to end: real credentials, real SDKs, real sockets. */

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    env: { UPSTREAM_MAX_RETRIES: '1', UPSTREAM_TIMEOUT_MS: '2000', STREAM_IDLE_TIMEOUT_MS: '1500' },
    emulator: { propagationDelaySeconds: 2 },
  });
});

afterAll(async () => {
  await stack.stop();
});

afterEach(async () => {
  await stack.emulator.admin.reset();
});

const chat = (body: Record<string, unknown>, path = 'chat/completions') =>
  fetch(`${stack.apiBaseUrl}/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.callerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 8, ...body }),
  });

const health = () =>
  fetch(`${stack.apiBaseUrl}/health?deep=true`, {
    headers: { authorization: `Bearer ${stack.callerToken}` },
  });

async function errorOf(response: Response): Promise<Record<string, unknown>> {
  const body = (await response.json()) as { error: Record<string, unknown> };
  return body.error;
}

async function sseEvents(response: Response): Promise<string[]> {
  return (await response.text())
    .split('\n\n')
    .map((event) => event.trim())
    .filter((event) => event.length > 0);
}

describe('upstream failures, end to end', () => {
  it('maps a missing role (401 PermissionDenied) to 502 upstream_permission_denied with the fix', async () => {
    const { systemAssigned } = stack.emulator.principals;
    await stack.emulator.admin.removeRole(systemAssigned.objectId, 'Cognitive Services OpenAI User');
    const response = await chat({});
    expect(response.status).toBe(502);
    const error = await errorOf(response);
    expect(error.code).toBe('upstream_permission_denied');
    expect(error.message).toContain('Cognitive Services OpenAI User');
  });

  it('turns deep health from 503 to 200 once a new role assignment has propagated', async () => {
    const { systemAssigned } = stack.emulator.principals;
    await stack.emulator.admin.removeRole(systemAssigned.objectId, 'Cognitive Services OpenAI User');
    const before = await health();
    expect(before.status).toBe(503);
    expect((await errorOf(before)).code).toBe('role_assignment_pending');

    await stack.emulator.admin.assignRole({
      principalId: systemAssigned.objectId,
      role: 'Cognitive Services OpenAI User',
      scope: 'account',
    });
    expect((await health()).status).toBe(503);
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = (await health()).status;
    }
    expect(status).toBe(200);
  });

  it('maps an allowed deployment the account lacks to 502 upstream_deployment_not_found', async () => {
    const lacking = await startStack({
      env: { AZURE_OPENAI_ALLOWED_DEPLOYMENTS: 'gpt-4o-mini,gpt-5-imaginary' },
    });
    try {
      const response = await fetch(`${lacking.apiBaseUrl}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${lacking.callerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-5-imaginary', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(response.status).toBe(502);
      expect((await errorOf(response)).code).toBe('upstream_deployment_not_found');
    } finally {
      await lacking.stop();
    }
  });

  it('passes Azure rate limiting through as 429 with Retry-After', async () => {
    await stack.emulator.admin.setRateLimit('gpt-4o-mini', { tokensPerMinute: 40 });
    const response = await chat({ max_tokens: 30 });
    const second = response.status === 429 ? response : await chat({ max_tokens: 30 });
    expect(second.status).toBe(429);
    expect((await errorOf(second)).code).toBe('rate_limited');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('answers 429 at once, not after sleeping, when Azure asks for a wait longer than the budget', async () => {
    await stack.emulator.admin.setFault({
      kind: 'status',
      target: 'openai',
      status: 429,
      retryAfterSeconds: 30,
    });
    const started = Date.now();
    const response = await chat({});
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('30');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('keeps the content-filter categories when the prompt is blocked', async () => {
    const response = await chat({ messages: [{ role: 'user', content: 'please [[block-prompt]]' }] });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe('content_filter');
    expect(error.content_filter_result).toMatchObject({ hate: { filtered: true } });
  });

  it('shows a completion blocked mid-stream as finish_reason content_filter', async () => {
    const response = await chat({
      stream: true,
      messages: [{ role: 'user', content: 'tell me [[block-completion]]' }],
    });
    expect(response.status).toBe(200);
    const events = await sseEvents(response);
    expect(events.some((event) => event.includes('"finish_reason":"content_filter"'))).toBe(true);
    expect(events.at(-1)).toBe('data: [DONE]');
  });

  it('maps upstream 5xx after bounded retries to 502 upstream_error', async () => {
    await stack.emulator.admin.setFault({ kind: 'status', target: 'openai', status: 500 });
    const response = await chat({});
    expect(response.status).toBe(502);
    expect((await errorOf(response)).code).toBe('upstream_error');
    expect((await stack.emulator.admin.stats()).chatCalls).toBe(2);
  });

  it('maps an upstream that does not answer in time to 504 upstream_timeout', async () => {
    await stack.emulator.admin.setFault({ kind: 'latency', firstTokenMs: 5000 });
    const response = await chat({});
    expect(response.status).toBe(504);
    expect((await errorOf(response)).code).toBe('upstream_timeout');
  });

  it('ends a stream whose connection is reset with a final error event', async () => {
    await stack.emulator.admin.setFault({ kind: 'reset', afterChunks: 3 });
    const response = await chat({ stream: true, max_tokens: 10 });
    expect(response.status).toBe(200);
    const events = await sseEvents(response);
    expect(events.at(-1)).toMatch(/^data: \{"error":\{.*"code":"upstream_error"/);
  });

  it('ends a stalled stream with upstream_timeout after STREAM_IDLE_TIMEOUT_MS', async () => {
    await stack.emulator.admin.setFault({ kind: 'stall', afterChunks: 2 });
    const response = await chat({ stream: true, max_tokens: 10 });
    const events = await sseEvents(response);
    expect(events.at(-1)).toMatch(/"code":"upstream_timeout"/);
  });

  it('maps an ARM refusal to 502 and an ARM 429 to 429', async () => {
    // NOTE: without a cache the refusal is not remembered, so the second listing asks ARM again.
    const fresh = await startStack({ env: { MODELS_CACHE_TTL_SECONDS: '0' } });
    try {
      const list = () =>
        fetch(`${fresh.apiBaseUrl}/models`, { headers: { authorization: `Bearer ${fresh.callerToken}` } });
      await fresh.emulator.admin.setFault({ kind: 'status', target: 'arm', status: 403, count: 10 });
      const refused = await list();
      expect(refused.status).toBe(502);
      expect((await errorOf(refused)).code).toBe('upstream_permission_denied');
      await fresh.emulator.admin.clearFaults();
      await fresh.emulator.admin.setFault({
        kind: 'status',
        target: 'arm',
        status: 429,
        retryAfterSeconds: 20,
      });
      const started = Date.now();
      const limited = await list();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('20');
    } finally {
      await fresh.stop();
    }
  });
});
