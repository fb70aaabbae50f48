import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';

/**
 * Runs a full set of requests, successes and failures, streamed and not, then reads every log line the app
 * wrote and every error body it sent: no prompt, completion, token or Authorization value may appear.
 */

const SECRET_PROMPT = 'PROMPT-SECRET-7f3a9c';
let stack: Stack;
const errorBodies: string[] = [];
const completions: string[] = [];

beforeAll(async () => {
  stack = await startStack({ env: { UPSTREAM_MAX_RETRIES: '0' } });
  const auth = { authorization: `Bearer ${stack.callerToken}` };
  const chat = (body: Record<string, unknown>, headers: Record<string, string> = auth) =>
    fetch(`${stack.apiBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        messages: [{ role: 'user', content: `${SECRET_PROMPT} tell me something` }],
        max_tokens: 12,
        ...body,
      }),
    });
  const record = async (response: Response) => {
    const text = await response.text();
    if (response.status >= 400) errorBodies.push(text);
    return text;
  };

  const plain = JSON.parse(await record(await chat({}))) as { choices: { message: { content: string } }[] };
  completions.push(plain.choices[0]?.message.content ?? '');
  const streamed = await record(await chat({ stream: true, stream_options: { include_usage: true } }));
  completions.push(
    streamed
      .split('\n\n')
      .filter((event) => event.startsWith('data: {'))
      .map(
        (event) =>
          (JSON.parse(event.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta
            ?.content ?? '',
      )
      .join(''),
  );
  await record(await fetch(`${stack.apiBaseUrl}/models`, { headers: auth }));
  await record(await fetch(`${stack.apiBaseUrl}/catalog/models?location=westus`, { headers: auth }));
  await record(await chat({}, { authorization: `Bearer ${stack.callerToken.slice(0, -6)}AAAAAA` }));
  await record(await chat({ unexpected_field: SECRET_PROMPT }));
  await record(await chat({ messages: [{ role: 'user', content: `${SECRET_PROMPT} [[block-prompt]]` }] }));
  await record(await chat({ model: 'not-an-allowed-deployment' }));
  await stack.emulator.admin.removeRole(stack.emulator.principals.systemAssigned.objectId);
  await record(await chat({}));
  await stack.emulator.admin.reset();
  await stack.emulator.admin.setFault({ kind: 'reset', afterChunks: 4 });
  await record(await chat({ stream: true }));
  await stack.emulator.admin.reset();
  // NOTE: stream summaries are written when the stream ends; give the host a moment to flush them.
  await new Promise((resolve) => setTimeout(resolve, 300));
});

afterAll(async () => {
  await stack.stop();
});

describe('what the app writes down', () => {
  it('logged a summary line for each request, so the checks below have something to read', () => {
    const lines = stack
      .logs()
      .split('\n')
      .filter((line) => line.includes('request {'));
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(stack.logs()).toContain('"streamed":true');
    expect(completions.every((text) => text.length > 10)).toBe(true);
  });

  it('never logs prompt or completion text', () => {
    const logs = stack.logs();
    expect(logs).not.toContain(SECRET_PROMPT);
    for (const completion of completions) expect(logs).not.toContain(completion.trim());
  });

  it('never logs a token or an Authorization header value', () => {
    const logs = stack.logs();
    expect(logs).not.toContain(stack.callerToken.split('.')[2] ?? 'x');
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
    expect(logs.toLowerCase()).not.toContain('bearer ey');
  });

  it('never puts prompts, tokens or upstream internals into error responses', () => {
    expect(errorBodies.length).toBeGreaterThanOrEqual(5);
    for (const body of errorBodies) {
      expect(body).not.toContain(SECRET_PROMPT);
      expect(body).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
      expect(body).not.toContain(stack.emulator.principals.systemAssigned.objectId);
      expect(body).not.toMatch(/at .+\.(js|ts):\d+/);
    }
  });
});
