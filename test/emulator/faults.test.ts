import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../tools/emulator/index';
import {
  emulatorForFile,
  serviceToken,
  datedChatUrl,
  postChat,
  readEvents,
  userMessage,
} from './emulator-requests';

const file = emulatorForFile();

function streamChat(maxTokens: number, signal?: AbortSignal): Promise<Response> {
  return postChat(
    datedChatUrl(file.emulator),
    { messages: [userMessage('fault')], max_tokens: maxTokens, stream: true },
    { token: file.token },
    signal,
  );
}

describe('status faults on the data plane', () => {
  it('answers the injected status count times, then serves again', async () => {
    await file.emulator.admin.setFault({ kind: 'status', target: 'openai', status: 500, count: 2 });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const failed = await postChat(
        datedChatUrl(file.emulator),
        { messages: [userMessage('x')] },
        { token: file.token },
      );
      expect(failed.status).toBe(500);
      expect(await failed.json()).toHaveProperty('error.code', 'InternalServerError');
    }
    expect(
      (await postChat(datedChatUrl(file.emulator), { messages: [userMessage('x')] }, { token: file.token }))
        .status,
    ).toBe(200);
    expect((await file.emulator.admin.stats()).chatCalls).toBe(3);
  });

  it('sends retry-after and retry-after-ms with an injected 503', async () => {
    await file.emulator.admin.setFault({
      kind: 'status',
      target: 'openai',
      status: 503,
      retryAfterSeconds: 2,
    });
    const response = await postChat(
      datedChatUrl(file.emulator),
      { messages: [userMessage('x')] },
      { token: file.token },
    );
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(response.headers.get('retry-after-ms')).toBe('2000');
    expect(await response.json()).toHaveProperty('error.code', 'ServiceUnavailable');
  });

  it('keeps failing without a count until the faults are cleared', async () => {
    await file.emulator.admin.setFault({ kind: 'status', target: 'openai', status: 502 });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect(
        (await postChat(datedChatUrl(file.emulator), { messages: [userMessage('x')] }, { token: file.token }))
          .status,
      ).toBe(502);
    }
    await file.emulator.admin.clearFaults();
    expect(
      (await postChat(datedChatUrl(file.emulator), { messages: [userMessage('x')] }, { token: file.token }))
        .status,
    ).toBe(200);
  });

  it('refuses a malformed fault', async () => {
    await expect(
      file.emulator.admin.setFault({ kind: 'status', target: 'openai', status: 200 }),
    ).rejects.toThrow('status must be between 400 and 599');
  });
});

describe('latency faults', () => {
  it('delays the first byte and spaces streamed content chunks', async () => {
    await file.emulator.admin.setFault({ kind: 'latency', firstTokenMs: 150, perTokenMs: 60 });
    const startedAt = performance.now();
    const response = await streamChat(4);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(140);
    const events = await readEvents(response, startedAt);
    const content = events.filter((event) => /"delta":\{"content":"[^"]/.test(event.data));
    expect(content).toHaveLength(4);
    // NOTE: the span, not each gap: on a loaded machine the client may read the first event late, which
    // shortens the first gap without the server having sent anything early.
    const span = (content.at(-1)?.at ?? 0) - (content[0]?.at ?? 0);
    expect(span).toBeGreaterThanOrEqual(45 * (content.length - 1));
  });

  it('makes a non-streaming answer wait first + per-token × tokens', async () => {
    await file.emulator.admin.setFault({ kind: 'latency', firstTokenMs: 50, perTokenMs: 30 });
    const startedAt = performance.now();
    const response = await postChat(
      datedChatUrl(file.emulator),
      { messages: [userMessage('x')], max_tokens: 5 },
      { token: file.token },
    );
    await response.json();
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(190);
  });
});

describe('stream breaks', () => {
  it('destroys the socket after the given number of events on reset', async () => {
    await file.emulator.admin.setFault({ kind: 'reset', afterChunks: 3 });
    const response = await streamChat(8);
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });

  it('goes silent but keeps the connection open on stall, until the client gives up', async () => {
    await file.emulator.admin.setFault({ kind: 'stall', afterChunks: 2 });
    const controller = new AbortController();
    const response = await streamChat(8, controller.signal);
    if (!response.body) throw new Error('no body');
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let received = '';
    while (received.split('\n\n').length - 1 < 2) {
      const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
      if (done) break;
      received += decoder.decode(value, { stream: true });
    }
    expect(received.split('\n\n').length - 1).toBe(2);

    const silence = await Promise.race([
      reader.read().then(() => 'data'),
      new Promise<string>((resolve) => setTimeout(resolve, 300, 'silent')),
    ]);
    expect(silence).toBe('silent');
    controller.abort();
  });

  it('lets close() end a stalled stream at once', async () => {
    const own = await startEmulator();
    await own.admin.setFault({ kind: 'stall', afterChunks: 1 });
    const response = await postChat(
      datedChatUrl(own),
      { messages: [userMessage('x')], stream: true },
      { token: await serviceToken(own) },
    );
    const bodyFails = expect(response.text()).rejects.toThrow();
    const startedAt = performance.now();
    await own.close();
    expect(performance.now() - startedAt).toBeLessThan(1000);
    await bodyFails;
  });
});
