import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startStack, type Stack } from '../support/stack';

/**
 * The Vercel AI SDK's default model factory (`provider(deployment)`), which speaks the Responses API, against
 * the gateway's `/api/responses`. `store: false` makes the SDK send earlier output items instead of references
 * to stored ones, which the stateless gateway refuses (README: Responses are stateless). The emulator's
 * Responses answers are not derived from the prompt, so these tests check the protocol, not the words.
 */

let stack: Stack;
let provider: ReturnType<typeof createOpenAI>;
const stateless = { openai: { store: false } };

beforeAll(async () => {
  stack = await startStack();
  provider = createOpenAI({ baseURL: stack.apiBaseUrl, apiKey: stack.callerToken });
});

afterAll(async () => {
  await stack.stop();
});

describe('Vercel AI SDK, default factory (Responses API)', () => {
  it('generateText answers with the deployment’s reply', async () => {
    const result = await generateText({
      model: provider('gpt-4o-mini'),
      maxRetries: 0,
      providerOptions: stateless,
      prompt: 'Hello from the Responses API',
    });
    expect(result.text.trim().length).toBeGreaterThan(0);
    expect(result.steps.at(-1)?.response.id).toMatch(/^resp_/);
    expect(result.finishReason).toBe('stop');
    expect(result.usage.outputTokens).toBeGreaterThan(0);
  });

  it('streamText streams the answer in several parts', async () => {
    const result = streamText({
      model: provider('gpt-4o'),
      maxRetries: 0,
      providerOptions: stateless,
      prompt: 'Stream through Responses',
    });
    const parts: string[] = [];
    for await (const part of result.textStream) parts.push(part);
    expect(parts.length).toBeGreaterThan(3);
    expect(parts.join('')).toBe(await result.text);
    expect(await result.finishReason).toBe('stop');
  });

  it('runs a function tool and answers with its result in a second call', async () => {
    const seen: string[] = [];
    const result = await generateText({
      model: provider('gpt-4o-mini'),
      maxRetries: 0,
      providerOptions: stateless,
      prompt: 'Please call get_weather for Berlin',
      tools: {
        get_weather: tool({
          description: 'The weather in a city',
          inputSchema: z.object({ city: z.string() }),
          execute: ({ city }) => {
            seen.push(city);
            return Promise.resolve({ city, temperature: 18 });
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    expect(seen).toHaveLength(1);
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]?.finishReason).toBe('tool-calls');
    expect(result.steps[1]?.finishReason).toBe('stop');
    expect(result.text.trim().length).toBeGreaterThan(0);
  });
});
