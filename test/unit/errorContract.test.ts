import { describe, expect, it } from 'vitest';
import { CredentialUnavailableError } from '@azure/identity';
import { answer, chatRequest, getRequest, harness, readJson } from '../support/gatewayHarness';

const hello = { messages: [{ role: 'user', content: 'Hello' }] };

const completion = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hi' },
      finish_reason: 'stop',
      content_filter_results: {},
    },
  ],
  prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
};

async function expectError(
  response: { status: number; headers: Record<string, string>; body?: unknown },
  status: number,
  code: string,
) {
  expect(response.status).toBe(status);
  const body = await readJson(response);
  const error = body.error as Record<string, unknown>;
  expect(error.code).toBe(code);
  expect(typeof error.type).toBe('string');
  expect(typeof error.message).toBe('string');
  expect(error).toHaveProperty('param');
  expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  return error;
}

describe('the error contract', () => {
  it('answers 415 when the body is not declared as JSON', async () => {
    const h = harness(answer(200, completion).fetch);
    const response = await h.gateway.chatCompletions(
      chatRequest(hello, { 'content-type': 'text/plain' }),
      h.context(),
    );
    await expectError(response, 415, 'unsupported_media_type');
  });

  it('answers 400 invalid_json for a body that does not parse', async () => {
    const h = harness(answer(200, completion).fetch);
    const response = await h.gateway.chatCompletions(chatRequest('{"messages": ['), h.context());
    await expectError(response, 400, 'invalid_json');
  });

  it('answers 400 invalid_json for nesting deeper than the bound', async () => {
    const h = harness(answer(200, completion).fetch);
    const deep = `{"messages":[{"role":"user","content":"x"}],"user":${'['.repeat(100)}${']'.repeat(100)}}`;
    const error = await expectError(
      await h.gateway.chatCompletions(chatRequest(deep), h.context()),
      400,
      'invalid_json',
    );
    expect(error.message).toContain('nests deeper');
  });

  it('answers 413 when the body is larger than MAX_BODY_BYTES', async () => {
    const h = harness(answer(200, completion).fetch, { env: { MAX_BODY_BYTES: '2048' } });
    const big = { messages: [{ role: 'user', content: 'x'.repeat(5000) }] };
    await expectError(
      await h.gateway.chatCompletions(chatRequest(big), h.context()),
      413,
      'request_too_large',
    );
  });

  it.each([
    [{}, 'messages'],
    [{ messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
    [{ messages: [{ role: 'user', content: 42 }] }, 'messages[0].content'],
    [{ ...hello, temperature: 7 }, 'temperature'],
    [{ ...hello, n: 99 }, 'n'],
    [{ ...hello, surprise: true }, 'surprise'],
    [{ ...hello, data_sources: [{ type: 'azure_search' }] }, 'data_sources'],
    [{ ...hello, max_tokens: 0 }, 'max_tokens'],
  ])('answers 400 invalid_request naming the field for %j', async (body, param) => {
    const upstream = answer(200, completion);
    const h = harness(upstream.fetch);
    const error = await expectError(
      await h.gateway.chatCompletions(chatRequest(body), h.context()),
      400,
      'invalid_request',
    );
    expect(error.param).toBe(param);
    expect(upstream.calls).toHaveLength(0);
  });

  it('answers 404 model_not_found for a deployment outside the allow-list, without calling Azure', async () => {
    const upstream = answer(200, completion);
    const h = harness(upstream.fetch);
    const response = await h.gateway.chatCompletions(
      chatRequest({ ...hello, model: 'gpt-secret' }),
      h.context(),
    );
    const error = await expectError(response, 404, 'model_not_found');
    expect(error.param).toBe('model');
    expect(upstream.calls).toHaveLength(0);
  });

  it('keeps the content-filter categories when Azure blocks the prompt', async () => {
    const filtered = {
      error: {
        message:
          "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        innererror: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_result: { hate: { filtered: true, severity: 'high' } },
        },
      },
    };
    const h = harness(answer(400, filtered).fetch);
    const error = await expectError(
      await h.gateway.chatCompletions(chatRequest(hello), h.context()),
      400,
      'content_filter',
    );
    expect(error.content_filter_result).toEqual({ hate: { filtered: true, severity: 'high' } });
  });

  it('keeps the content-filter categories from the v1 body (inner_error.content_filter_results)', async () => {
    const filtered = {
      error: {
        message:
          "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        inner_error: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_results: { violence: { filtered: true, severity: 'medium' } },
        },
      },
    };
    const h = harness(answer(400, filtered).fetch);
    const error = await expectError(
      await h.gateway.chatCompletions(chatRequest(hello), h.context()),
      400,
      'content_filter',
    );
    expect(error.content_filter_result).toEqual({ violence: { filtered: true, severity: 'medium' } });
    expect(error.param).toBe('messages');
  });

  it.each([
    [
      'dated',
      {
        message: 'Unrecognized request argument supplied: frobnicate',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    ],
    [
      'v1',
      {
        message: "Unknown parameter: 'frobnicate'.",
        type: 'invalid_request_error',
        param: 'frobnicate',
        code: 'unknown_parameter',
      },
    ],
  ])('turns the %s unknown-parameter wording into invalid_request naming the parameter', async (_, body) => {
    const h = harness(answer(400, { error: body }).fetch);
    const error = await expectError(
      await h.gateway.chatCompletions(chatRequest(hello), h.context()),
      400,
      'invalid_request',
    );
    expect(error.param).toBe('frobnicate');
    expect(error.message).toContain('frobnicate');
  });

  it('keeps the upstream code of other upstream 400s such as context_length_exceeded', async () => {
    const tooLong = {
      error: {
        message: "This model's maximum context length is 128000 tokens.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    };
    const h = harness(answer(400, tooLong).fetch);
    const error = await expectError(
      await h.gateway.chatCompletions(chatRequest(hello), h.context()),
      400,
      'context_length_exceeded',
    );
    expect(error.param).toBe('messages');
  });

  it.each([
    [
      401,
      { error: { code: 'PermissionDenied', message: 'The principal `0000` lacks the required data action' } },
    ],
    [
      401,
      {
        statusCode: 401,
        message: 'Unauthorized. Access token is missing, invalid, audience is incorrect, or have expired.',
      },
    ],
    [
      403,
      {
        error: {
          code: 'AuthenticationTypeDisabled',
          message: 'Key based authentication is disabled for this resource.',
        },
      },
    ],
  ])(
    'answers 502 upstream_permission_denied with the role to assign for upstream %i',
    async (status, body) => {
      const h = harness(answer(status, body).fetch);
      const error = await expectError(
        await h.gateway.chatCompletions(chatRequest(hello), h.context()),
        502,
        'upstream_permission_denied',
      );
      expect(error.message).toContain('Cognitive Services OpenAI User');
      expect(error.message).toContain('minutes');
      expect(error.message).not.toContain('0000');
    },
  );

  it('answers 502 upstream_deployment_not_found when Azure has no such deployment', async () => {
    const missing = {
      error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' },
    };
    const h = harness(answer(404, missing).fetch);
    await expectError(
      await h.gateway.chatCompletions(chatRequest(hello), h.context()),
      502,
      'upstream_deployment_not_found',
    );
  });

  it('answers 429 with Retry-After from retry-after-ms when Azure rate limits', async () => {
    const limited = { error: { code: '429', message: 'Requests … have exceeded token rate limit' } };
    const h = harness(answer(429, limited, { 'retry-after': '6', 'retry-after-ms': '5500' }).fetch);
    const response = await h.gateway.chatCompletions(chatRequest(hello), h.context());
    await expectError(response, 429, 'rate_limited');
    expect(response.headers['retry-after']).toBe('6');
    expect(response.headers['retry-after-ms']).toBe('5500');
  });

  it('does not sleep through a retry-after longer than the request budget', async () => {
    const upstream = answer(429, { error: { code: '429', message: 'slow down' } }, { 'retry-after': '120' });
    const h = harness(upstream.fetch, { env: { UPSTREAM_MAX_RETRIES: '2', UPSTREAM_TIMEOUT_MS: '5000' } });
    const started = Date.now();
    const response = await h.gateway.chatCompletions(chatRequest(hello), h.context());
    await expectError(response, 429, 'rate_limited');
    expect(response.headers['retry-after']).toBe('120');
    expect(upstream.calls).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('answers 502 upstream_error after bounded retries of upstream 5xx', async () => {
    const upstream = answer(
      503,
      { error: { code: 'ServiceUnavailable', message: 'internal detail 10.0.0.7' } },
      { 'retry-after-ms': '1' },
    );
    const h = harness(upstream.fetch, { env: { UPSTREAM_MAX_RETRIES: '2' } });
    const error = await expectError(
      await h.gateway.chatCompletions(chatRequest(hello), h.context()),
      502,
      'upstream_error',
    );
    expect(upstream.calls).toHaveLength(3);
    expect(JSON.stringify(error)).not.toContain('10.0.0.7');
  });

  it('answers 504 upstream_timeout when Azure does not answer within UPSTREAM_TIMEOUT_MS', async () => {
    const hang: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => {
          reject(new DOMException('aborted', 'AbortError'));
        });
      });
    const h = harness(hang, { env: { UPSTREAM_TIMEOUT_MS: '1000' } });
    await expectError(
      await h.gateway.chatCompletions(chatRequest(hello), h.context()),
      504,
      'upstream_timeout',
    );
  });

  it('answers 503 credential_unavailable and logs the SDK hint when no token can be had', async () => {
    // NOTE: the real AzureOpenAI client, with a token source that fails the way AzureCliCredential does.
    const h = harness(answer(200, completion).fetch, {
      tokenProvider: () =>
        Promise.reject(
          new CredentialUnavailableError(
            "Please run 'az login' from a command prompt to authenticate before using this credential.",
          ),
        ),
    });
    await expectError(
      await h.gateway.chatCompletions(chatRequest(hello), h.context()),
      503,
      'credential_unavailable',
    );
    expect(h.logs.some((line) => line.text.includes('az login'))).toBe(true);
  });

  it('answers 500 internal_error with a generic message when something unexpected breaks', async () => {
    const h = harness(answer(200, completion).fetch, {
      catalog: {
        deployments: () => Promise.reject(new TypeError('secret internal detail')),
        region: () => Promise.resolve([]),
      },
    });
    const error = await expectError(
      await h.gateway.listModels(getRequest('models'), h.context()),
      500,
      'internal_error',
    );
    expect(error.message).not.toContain('secret');
    expect(h.logs.find((line) => line.level === 'error')?.text).toContain('TypeError');
  });

  it('returns the chat.completion body with its filter annotations on success', async () => {
    const upstream = answer(200, completion, { 'apim-request-id': 'upstream-1' });
    const h = harness(upstream.fetch);
    const response = await h.gateway.chatCompletions(
      chatRequest({ ...hello, model: 'gpt-4o', temperature: 0.2 }),
      h.context(),
    );
    expect(response.status).toBe(200);
    expect(await readJson(response)).toEqual(completion);
    expect(upstream.calls[0]?.url).toBe('https://unit-test.openai.azure.com/openai/v1/chat/completions');
    expect(JSON.parse(upstream.calls[0]?.body ?? '{}')).toMatchObject({ model: 'gpt-4o', temperature: 0.2 });
    const summary = h.logs.find((line) => line.text.startsWith('request '))?.text ?? '';
    expect(summary).toContain('"upstreamRequestId":"upstream-1"');
    expect(summary).toContain('"promptTokens":3');
  });

  it('calls the dated surface through AzureOpenAI when a dated api-version is set', async () => {
    const upstream = answer(200, completion);
    const h = harness(upstream.fetch, { env: { AZURE_OPENAI_API_VERSION: '2024-10-21' } });
    const response = await h.gateway.chatCompletions(chatRequest({ ...hello, model: 'gpt-4o' }), h.context());
    expect(response.status).toBe(200);
    expect(upstream.calls[0]?.url).toBe(
      'https://unit-test.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
    );
  });
});
