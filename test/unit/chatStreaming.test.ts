import { describe, expect, it } from 'vitest';
import { estimatePromptTokens } from '../../src/lib/caller/tokenCharge';
import { chatRequest, harness } from '../support/gatewayHarness';
import { sseEvent as event, sseUpstream } from '../support/sseUpstream';

const chunk = (content: string) => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, delta: { content }, finish_reason: null, content_filter_results: {} }],
});

async function readTimed(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  const parts: { at: number; text: string }[] = [];
  const started = performance.now();
  for (let i = 0; i < 100; i++) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push({ at: performance.now() - started, text: decoder.decode(value) });
  }
  return parts;
}

const streamRequest = () => chatRequest({ messages: [{ role: 'user', content: 'Hi' }], stream: true });

describe('streamed chat completions', () => {
  it('forwards each upstream chunk as it arrives, unchanged, ending with [DONE]', async () => {
    const upstream = [event(chunk('One')), event(chunk(' two')), event(chunk(' three')), event('[DONE]')];
    const h = harness(sseUpstream(upstream.map((text) => ({ afterMs: 120, text }))));
    const response = await h.gateway.chatCompletions(streamRequest(), h.context());
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const parts = await readTimed(response.body as ReadableStream<Uint8Array>);
    expect(parts.map((part) => part.text).join('')).toBe(upstream.join(''));
    expect(parts.length).toBe(4);
    // NOTE: spacing survives the relay: the last part arrives well after the first.
    expect((parts.at(-1)?.at ?? 0) - (parts[0]?.at ?? 0)).toBeGreaterThan(250);
  });

  it('ends with a final error event when the upstream connection breaks mid-stream', async () => {
    const h = harness(
      sseUpstream([
        { afterMs: 5, text: event(chunk('partial')) },
        { afterMs: 5, text: 'data: {"choi' },
        { afterMs: 5, fail: new TypeError('terminated') },
      ]),
    );
    const response = await h.gateway.chatCompletions(streamRequest(), h.context());
    const text = (await readTimed(response.body as ReadableStream<Uint8Array>))
      .map((part) => part.text)
      .join('');
    const last = text.trim().split('\n\n').at(-1) ?? '';
    expect(JSON.parse(last.replace(/^data: /, ''))).toMatchObject({
      error: { code: 'upstream_error', type: 'upstream_error' },
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(
      h.logs.some((line) => line.level === 'error' && line.text.includes('"error":"upstream_error"')),
    ).toBe(true);
  });

  it('ends with upstream_timeout when the upstream stalls longer than STREAM_IDLE_TIMEOUT_MS', async () => {
    const h = harness(
      sseUpstream([
        { afterMs: 5, text: event(chunk('a')) },
        { afterMs: 5_000, text: event('[DONE]') },
      ]),
      { env: { STREAM_IDLE_TIMEOUT_MS: '1000' } },
    );
    const response = await h.gateway.chatCompletions(streamRequest(), h.context());
    const text = (await readTimed(response.body as ReadableStream<Uint8Array>))
      .map((part) => part.text)
      .join('');
    expect(text).toContain('"code":"upstream_timeout"');
    expect(text).not.toContain('[DONE]');
  });

  it('reports a stream that ends without [DONE] as an error rather than a success', async () => {
    const h = harness(sseUpstream([{ afterMs: 5, text: event(chunk('a')) }]));
    const response = await h.gateway.chatCompletions(streamRequest(), h.context());
    const text = (await readTimed(response.body as ReadableStream<Uint8Array>))
      .map((part) => part.text)
      .join('');
    expect(text).toContain('"code":"upstream_error"');
  });

  it('logs usage from the usage chunk and never the streamed content', async () => {
    const usage = {
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [],
      usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
    };
    const h = harness(
      sseUpstream(
        [event(chunk('SECRET-COMPLETION')), event(usage), event('[DONE]')].map((text) => ({
          afterMs: 1,
          text,
        })),
      ),
    );
    const response = await h.gateway.chatCompletions(
      chatRequest({
        messages: [{ role: 'user', content: 'SECRET-PROMPT' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
      h.context(),
    );
    await readTimed(response.body as ReadableStream<Uint8Array>);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const all = h.logs.map((line) => line.text).join('\n');
    expect(all).toContain('"promptTokens":9');
    expect(all).toContain('"completionTokens":2');
    expect(all).toContain('"streamed":true');
    expect(all).not.toContain('SECRET');
  });

  it('gives the stream slot back when the caller cancels, so the next stream may start', async () => {
    const steps = [event(chunk('a')), event(chunk('b')), event('[DONE]')].map((text) => ({
      afterMs: 50,
      text,
    }));
    const h = harness(sseUpstream(steps), { env: { LIMIT_CONCURRENT_STREAMS: '1' } });
    const first = await h.gateway.chatCompletions(streamRequest(), h.context());
    const blocked = await h.gateway.chatCompletions(streamRequest(), h.context());
    expect(blocked.status).toBe(429);
    await (first.body as ReadableStream<Uint8Array>).cancel();
    const next = await h.gateway.chatCompletions(streamRequest(), h.context());
    expect(next.status).toBe(200);
    await (next.body as ReadableStream<Uint8Array>).cancel();
  });

  it('asks Azure for usage and caps the completion whatever the caller sent, and drops the usage chunk', async () => {
    const usage = {
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [],
      usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
    };
    const sent: string[] = [];
    const h = harness(
      sseUpstream(
        [event(chunk('a')), event(usage), event('[DONE]')].map((text) => ({ afterMs: 1, text })),
        sent,
      ),
      { env: { LIMIT_MAX_TOKENS: '300' } },
    );
    const response = await h.gateway.chatCompletions(streamRequest(), h.context());
    const text = (await readTimed(response.body as ReadableStream<Uint8Array>))
      .map((part) => part.text)
      .join('');
    expect(JSON.parse(sent[0] ?? '{}')).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 300,
    });
    expect(JSON.parse(sent[0] ?? '{}')).not.toHaveProperty('max_tokens');
    expect(text).toBe(event(chunk('a')) + event('[DONE]'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(h.logs.map((line) => line.text).join('\n')).toContain('"chargedTokens":11');
  });

  it('sends the caller’s max_tokens as max_tokens, lowered to LIMIT_MAX_TOKENS', async () => {
    const sent: string[] = [];
    const h = harness(sseUpstream([{ afterMs: 1, text: event('[DONE]') }], sent), {
      env: { LIMIT_MAX_TOKENS: '300' },
    });
    const request = chatRequest({
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      max_tokens: 2000,
    });
    await readTimed(
      (await h.gateway.chatCompletions(request, h.context())).body as ReadableStream<Uint8Array>,
    );
    const body = JSON.parse(sent[0] ?? '{}') as Record<string, unknown>;
    expect(body.max_tokens).toBe(300);
    expect(body).not.toHaveProperty('max_completion_tokens');
  });

  it('charges a cancelled stream the prompt and the text relayed until then', async () => {
    const steps = [event(chunk('x'.repeat(40))), event(chunk('y'.repeat(40))), event(chunk('z'.repeat(400)))];
    const h = harness(sseUpstream(steps.map((text, index) => ({ afterMs: index < 2 ? 5 : 2_000, text }))));
    const response = await h.gateway.chatCompletions(streamRequest(), h.context());
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.read();
    await reader.cancel();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const prompt = estimatePromptTokens([{ role: 'user', content: 'Hi' }]);
    expect(h.logs.map((line) => line.text).join('\n')).toContain(`"chargedTokens":${String(prompt + 20)}`);
  });
});
