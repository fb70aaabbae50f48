import { getBearerTokenProvider, ManagedIdentityCredential } from '@azure/identity';
import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';
import {
  API_VERSION,
  datedChatUrl,
  MANAGEMENT,
  postChat,
  readEvents,
  serviceToken,
  userMessage,
  v1ChatUrl,
  pointIdentityAt,
} from './emulator-requests';

let emulator: Emulator;
let client: AzureOpenAI;
let v1Client: OpenAI;
let token: string;
let restoreIdentity: () => void;

beforeAll(async () => {
  emulator = await startEmulator();
  restoreIdentity = pointIdentityAt(emulator);
  const tokenProvider = getBearerTokenProvider(
    new ManagedIdentityCredential({ retryOptions: { maxRetries: 0 } }),
    'https://cognitiveservices.azure.com/.default',
  );
  client = new AzureOpenAI({
    endpoint: emulator.urls.openai,
    apiVersion: API_VERSION,
    azureADTokenProvider: tokenProvider,
    maxRetries: 0,
  });
  v1Client = new OpenAI({
    baseURL: `${emulator.urls.openai}/openai/v1/`,
    apiKey: tokenProvider,
    maxRetries: 0,
  });
  token = await serviceToken(emulator);
});

afterEach(async () => {
  await emulator.admin.reset();
});

afterAll(async () => {
  restoreIdentity();
  await emulator.close();
});

const words = (text: string | null | undefined): string[] => (text ?? '').trim().split(' ').filter(Boolean);

describe('chat completions through the AzureOpenAI client (dated API)', () => {
  it('answers by quoting the prompt back, deterministically, with Azure’s body and headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [userMessage('Hello')] })
      .withResponse();

    expect(data).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant' } }],
      // 'Hello' is 5 chars → 2 tokens, +3 for the message, +3 to prime the reply; one token per word out.
      usage: { prompt_tokens: 8, completion_tokens: 10, total_tokens: 18 },
    });
    expect(data.choices[0]?.message.content).toBe(
      'You said: "Hello". This is gpt-4o-mini on the local emulator.',
    );
    expect(data).toHaveProperty('system_fingerprint', expect.stringMatching(/^fp_/) as unknown);
    expect(words(data.choices[0]?.message.content)).toHaveLength(10);
    expect(data).toHaveProperty('prompt_filter_results.0.content_filter_results.jailbreak', {
      filtered: false,
      detected: false,
    });
    expect(data).toHaveProperty('choices.0.content_filter_results.hate', {
      filtered: false,
      severity: 'safe',
    });

    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('x-ms-deployment-name')).toBe('gpt-4o-mini');
    expect(response.headers.get('x-ms-region')).toBe('East US 2');
    for (const name of [
      'apim-request-id',
      'x-request-id',
      'x-ratelimit-limit-requests',
      'x-ratelimit-limit-tokens',
      'x-ratelimit-remaining-requests',
      'x-ratelimit-remaining-tokens',
    ]) {
      expect(response.headers.get(name), name).toBeTruthy();
    }

    const again = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [userMessage('Hello')],
    });
    const other = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [userMessage('Goodbye')],
    });
    expect(again.choices[0]?.message.content).toBe(data.choices[0]?.message.content);
    expect(other.choices[0]?.message.content).not.toBe(data.choices[0]?.message.content);
  });

  it('stops at max_completion_tokens with finish_reason length and gives n different choices', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [userMessage('Two answers please')],
      max_completion_tokens: 5,
      n: 2,
    });
    expect(completion.model).toBe('gpt-4o-2024-11-20');
    expect(
      completion.choices.map((choice) => [
        choice.index,
        choice.finish_reason,
        words(choice.message.content).length,
      ]),
    ).toEqual([
      [0, 'length', 5],
      [1, 'length', 5],
    ]);
    expect(completion.choices[0]?.message.content).not.toBe(completion.choices[1]?.message.content);
    expect(completion.usage?.completion_tokens).toBe(10);
  });

  it('streams the same words chunk by chunk, ending with usage when asked', async () => {
    const request = { model: 'gpt-4o-mini', messages: [userMessage('Stream it')], max_completion_tokens: 4 };
    const expected = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = '';
    const finishReasons: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices[0]?.finish_reason) finishReasons.push(chunk.choices[0].finish_reason);
      usage ??= chunk.usage;
    }
    expect(content).toBe(expected.choices[0]?.message.content);
    expect(finishReasons).toEqual(['length']);
    expect(usage).toMatchObject({ completion_tokens: 4, prompt_tokens: expected.usage?.prompt_tokens });
  });

  it('works with the stream() helper, which needs the role in the first chunk', async () => {
    const runner = client.chat.completions.stream({
      model: 'gpt-4.1-nano',
      messages: [userMessage('Helper')],
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]?.message.role).toBe('assistant');
    expect(final.choices[0]?.message.content).toContain('"Helper"');
    expect(final.choices[0]?.finish_reason).toBe('stop');
  });

  it('rejects an unknown deployment with DeploymentNotFound', async () => {
    await expect(
      client.chat.completions.create({ model: 'gpt-5-imaginary', messages: [userMessage('x')] }),
    ).rejects.toMatchObject({
      status: 404,
      code: 'DeploymentNotFound',
    });
  });

  it('rejects chat on the embedding deployment with OperationNotSupported', async () => {
    await expect(
      client.chat.completions.create({ model: 'text-embedding-3-small', messages: [userMessage('x')] }),
    ).rejects.toMatchObject({ status: 400, code: 'OperationNotSupported' });
  });
});

describe('the raw SSE stream', () => {
  it('sends prelude, role chunk, one chunk per token, finish chunk, usage chunk and [DONE], in that order', async () => {
    const startedAt = performance.now();
    const response = await postChat(
      datedChatUrl(emulator),
      {
        messages: [userMessage('Order')],
        max_tokens: 3,
        stream: true,
        stream_options: { include_usage: true },
      },
      { token },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = await readEvents(response, startedAt);

    expect(events.map((event) => event.data).at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.data) as Record<string, unknown>);
    expect(chunks).toHaveLength(1 + 1 + 3 + 1 + 1);
    const [prelude, role, c1, c2, c3, finish, usage] = chunks;
    expect(prelude).toMatchObject({ choices: [], created: 0, id: '', model: '', object: '' });
    expect(Object.keys(prelude ?? {})).toEqual([
      'choices',
      'created',
      'id',
      'model',
      'object',
      'prompt_filter_results',
    ]);
    expect(role).toMatchObject({
      object: 'chat.completion.chunk',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [
        {
          content_filter_results: {},
          delta: { content: '', refusal: null, role: 'assistant' },
          finish_reason: null,
          index: 0,
          logprobs: null,
        },
      ],
    });
    for (const chunk of [c1, c2, c3]) {
      expect(chunk).toHaveProperty('choices.0.delta.content', expect.stringMatching(/^ ?\S+$/) as unknown);
      expect(chunk).toHaveProperty('choices.0.content_filter_results.violence', {
        filtered: false,
        severity: 'safe',
      });
    }
    expect(finish).toMatchObject({ choices: [{ delta: {}, finish_reason: 'length', index: 0 }] });
    expect(usage).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });
    expect(new Set(chunks.slice(1).map((chunk) => chunk.id)).size).toBe(1);
  });

  it('leaves the usage chunk out unless include_usage is set', async () => {
    const response = await postChat(
      datedChatUrl(emulator),
      { messages: [userMessage('No usage')], max_tokens: 2, stream: true },
      { token },
    );
    const events = await readEvents(response, performance.now());
    expect(events).toHaveLength(1 + 1 + 2 + 1 + 1);
    expect(events.some((event) => event.data.includes('"usage"'))).toBe(false);
  });
});

describe('the v1 surface', () => {
  it('serves the plain OpenAI client with the deployment in model', async () => {
    const completion = await v1Client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [userMessage('Hello')],
    });
    expect(completion.model).toBe('gpt-4o-mini-2024-07-18');
    expect(completion.choices[0]?.message.content).toContain('"Hello"');
    expect(completion.usage?.completion_tokens).toBe(10);
  });

  it('refuses a dated api-version with 400 API version not supported', async () => {
    const response = await postChat(
      `${v1ChatUrl(emulator)}?api-version=${API_VERSION}`,
      { model: 'gpt-4o-mini', messages: [userMessage('x')] },
      { token },
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: { code: 'BadRequest', message: 'API version not supported' },
    });
  });

  it('answers DeploymentNotFound for an unknown model', async () => {
    const response = await postChat(
      v1ChatUrl(emulator),
      { model: 'nope', messages: [userMessage('x')] },
      { token },
    );
    expect(response.status).toBe(404);
    expect(await response.json()).toHaveProperty('error.code', 'DeploymentNotFound');
  });
});

describe('errors on the wire', () => {
  it('answers 404 Resource not found for a dated path without api-version and for unknown paths', async () => {
    for (const url of [
      datedChatUrl(emulator, 'gpt-4o-mini', null),
      `${emulator.urls.openai}/openai/deployments/gpt-4o-mini/embeddingz?api-version=${API_VERSION}`,
      `${emulator.urls.openai}/`,
    ]) {
      const response = await postChat(url, { messages: [userMessage('x')] }, { token });
      expect(response.status, url).toBe(404);
      expect(await response.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
    }
  });

  it('answers a missing, wrong-audience, expired or foreign token with the 401 that has no error envelope', async () => {
    const body401 = {
      statusCode: 401,
      message:
        'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.',
    };
    const dataAudience = { aud: 'https://cognitiveservices.azure.com' };
    const tokens = [
      await serviceToken(emulator, MANAGEMENT),
      await emulator.mintCallerToken({ claims: dataAudience, expiresInSeconds: -60 }),
      await emulator.mintCallerToken({ claims: dataAudience, signWith: 'foreign' }),
    ];
    const noToken = await postChat(datedChatUrl(emulator), { messages: [userMessage('x')] }, { headers: {} });
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toEqual(body401);
    for (const bad of tokens) {
      const response = await postChat(
        datedChatUrl(emulator),
        { messages: [userMessage('x')] },
        { token: bad },
      );
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual(body401);
    }
    const valid = await postChat(
      datedChatUrl(emulator),
      { messages: [userMessage('x')] },
      {
        token: await emulator.mintCallerToken({
          claims: { aud: 'https://ai.azure.com', oid: emulator.principals.developer.objectId },
        }),
      },
    );
    expect(valid.status).toBe(200);
  });

  it('refuses key authentication with 403 AuthenticationTypeDisabled', async () => {
    const response = await postChat(
      datedChatUrl(emulator),
      { messages: [userMessage('x')] },
      { headers: { 'api-key': 'any-key' } },
    );
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: {
        code: 'AuthenticationTypeDisabled',
        message: 'Key based authentication is disabled for this resource.',
      },
    });
  });

  it('validates the body like Azure: JSON, messages required, max_tokens an integer ≥ 1', async () => {
    const url = datedChatUrl(emulator);
    const cases: [unknown, string][] = [
      ['{not json', 'We could not parse the JSON body'],
      [{}, "'messages' is a required property"],
      [{ messages: [] }, "[] is too short - 'messages'"],
      [{ messages: [{ role: 'robot', content: 'x' }] }, "- 'messages.0.role'"],
      [{ messages: [userMessage('x')], max_tokens: 0 }, "Invalid 'max_tokens'"],
    ];
    for (const [body, message] of cases) {
      const response = await postChat(url, body, { token });
      expect(response.status).toBe(400);
      const error = ((await response.json()) as { error: { message: string; type: string } }).error;
      expect(error.type).toBe('invalid_request_error');
      expect(error.message).toContain(message);
    }
  });

  it('rejects prompts beyond the context window and max_tokens beyond the model’s output limit', async () => {
    const long = await postChat(
      datedChatUrl(emulator),
      { messages: [userMessage('x'.repeat(520_000))] },
      { token },
    );
    expect(long.status).toBe(400);
    expect(await long.json()).toHaveProperty('error.code', 'context_length_exceeded');
    const tooMany = await postChat(
      datedChatUrl(emulator),
      { messages: [userMessage('x')], max_tokens: 20_000 },
      { token },
    );
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toHaveProperty('error.param', 'max_tokens');
  });
});

describe('the content filter', () => {
  it('blocks a [[block-prompt]] prompt with 400 content_filter, innererror on the dated API', async () => {
    const response = await postChat(
      datedChatUrl(emulator),
      { messages: [userMessage('please [[block-prompt]]')] },
      { token },
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({
      code: 'content_filter',
      param: 'prompt',
      status: 400,
      innererror: {
        code: 'ResponsibleAIPolicyViolation',
        content_filter_result: { hate: { filtered: true, severity: 'high' } },
      },
    });
    expect(body.error).not.toHaveProperty('inner_error');
    await expect(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [userMessage('[[block-prompt]]')] }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'content_filter',
      param: 'prompt',
    });
  });

  it('blocks a [[block-prompt]] prompt with inner_error.content_filter_results on v1', async () => {
    const response = await postChat(
      v1ChatUrl(emulator),
      { model: 'gpt-4o-mini', messages: [userMessage('[[block-prompt]]')] },
      { token },
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body.error).toHaveProperty('inner_error.content_filter_results.jailbreak', {
      filtered: false,
      detected: false,
    });
    expect(body.error).not.toHaveProperty('innererror');
  });

  it('cuts a [[block-completion]] answer after a few tokens with finish_reason content_filter', async () => {
    const messages = [userMessage('go on [[block-completion]]')];
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(completion.choices[0]?.finish_reason).toBe('content_filter');
    expect(words(completion.choices[0]?.message.content)).toHaveLength(3);

    const response = await postChat(datedChatUrl(emulator), { messages, stream: true }, { token });
    expect(response.status).toBe(200);
    const events = await readEvents(response, performance.now());
    const finish = JSON.parse(events.at(-2)?.data ?? '{}') as unknown;
    expect(finish).toHaveProperty('choices.0.finish_reason', 'content_filter');
    expect(finish).toHaveProperty('choices.0.content_filter_results.hate', {
      filtered: true,
      severity: 'high',
    });
  });
});
