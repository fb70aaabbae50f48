import { AzureOpenAI, RateLimitError } from 'openai';
import { describe, expect, it } from 'vitest';
import { emulatorForFile, API_VERSION, datedChatUrl, postChat, userMessage } from './emulator-requests';

const file = emulatorForFile();

// 'hi' → 1 token + 3 for the message + 3 to prime the reply = 7 prompt tokens.
const PROMPT_TOKENS = 7;

function chat(deployment: string, maxTokens: number): Promise<Response> {
  return postChat(
    datedChatUrl(file.emulator, deployment),
    { messages: [userMessage('hi')], max_tokens: maxTokens },
    { token: file.token },
  );
}

describe('per-deployment rate limits', () => {
  it('charges prompt estimate plus max_tokens at admission and answers 429 with Azure’s body and headers', async () => {
    await file.emulator.admin.setRateLimit('gpt-4o-mini', { tokensPerMinute: 100 });

    const first = await chat('gpt-4o-mini', 50);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('100');
    expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe(String(100 - PROMPT_TOKENS - 50));

    const second = await chat('gpt-4o-mini', 50);
    expect(second.status).toBe(429);
    const retryAfter = Number(second.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(second.headers.get('retry-after-ms')).toBe(String(retryAfter * 1000));
    expect(second.headers.get('x-ratelimit-remaining-tokens')).toBe(String(100 - PROMPT_TOKENS - 50));
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBeTruthy();
    expect(await second.json()).toEqual({
      error: {
        code: '429',
        message: `Requests to the ChatCompletions_Create Operation under Azure OpenAI API version ${API_VERSION} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after ${retryAfter} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`,
      },
    });

    expect((await chat('gpt-4o', 50)).status).toBe(200);
  });

  it('limits requests per 10 seconds with a call rate limit message', async () => {
    await file.emulator.admin.setRateLimit('gpt-4o', { requestsPer10Seconds: 1 });
    expect((await chat('gpt-4o', 1)).status).toBe(200);
    const limited = await chat('gpt-4o', 1);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(10);
    expect(limited.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(((await limited.json()) as { error: { message: string } }).error.message).toContain(
      'exceeded call rate limit',
    );
  });

  it('admits again after resetRateLimits', async () => {
    await file.emulator.admin.setRateLimit('gpt-4o-mini', { requestsPer10Seconds: 1 });
    await (await chat('gpt-4o-mini', 1)).body?.cancel();
    expect((await chat('gpt-4o-mini', 1)).status).toBe(429);
    await file.emulator.admin.resetRateLimits();
    expect((await chat('gpt-4o-mini', 1)).status).toBe(200);
  });

  it('surfaces as a RateLimitError with the headers in the openai SDK', async () => {
    await file.emulator.admin.setRateLimit('gpt-4o-mini', { tokensPerMinute: 10 });
    const client = new AzureOpenAI({
      endpoint: file.emulator.urls.openai,
      apiVersion: API_VERSION,
      azureADTokenProvider: () => Promise.resolve(file.token),
      maxRetries: 0,
    });
    const attempt = client.chat.completions.create({ model: 'gpt-4o-mini', messages: [userMessage('hi')] });
    await expect(attempt).rejects.toBeInstanceOf(RateLimitError);
    await expect(attempt).rejects.toMatchObject({ status: 429, code: '429' });
  });

  it('refuses a limit for a deployment that does not exist', async () => {
    await expect(file.emulator.admin.setRateLimit('nope', { tokensPerMinute: 1 })).rejects.toThrow(
      'unknown deployment nope',
    );
  });
});
