import { createOpenAI } from '@ai-sdk/openai';
import { generateText, Output, stepCountIs, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startStack, type Stack } from '../support/stack';
import { aiSdkWeatherTool } from '../support/weatherTool';

/**
 * The Vercel AI SDK's default model factory (`provider(deployment)`), which speaks the Responses API, against
 * the gateway's `/api/responses`, through the flows the SDK's docs lead with: generateText, streamText, a tool
 * round trip and structured output. `store: false` makes the SDK send earlier output items instead of references
 * to stored ones, which the stateless gateway refuses (README: Responses are stateless).
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
  it('generateText answers with the deployment’s reply to the prompt', async () => {
    const result = await generateText({
      model: provider('gpt-4o-mini'),
      maxRetries: 0,
      providerOptions: stateless,
      prompt: 'Hello from the Responses API',
    });
    expect(result.text).toBe(
      'You said: "Hello from the Responses API". This is gpt-4o-mini on the local emulator.',
    );
    expect(result.steps.at(-1)?.response.id).toMatch(/^resp_/);
    expect(result.finishReason).toBe('stop');
    expect(result.usage.outputTokens).toBe(result.text.split(' ').length);
  });

  it('streamText streams the answer in several parts that join into the final text', async () => {
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
    expect(await result.text).toBe(
      'You said: "Stream through Responses". This is gpt-4o on the local emulator.',
    );
    expect(await result.finishReason).toBe('stop');
  });

  it('runs a function tool with arguments from the prompt and answers with its result', async () => {
    const seen: string[] = [];
    const result = await generateText({
      model: provider('gpt-4o-mini'),
      maxRetries: 0,
      providerOptions: stateless,
      prompt: 'Please call get_weather for Berlin',
      tools: { get_weather: aiSdkWeatherTool(seen) },
      stopWhen: stepCountIs(3),
    });
    expect(seen).toEqual(['Berlin']);
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]?.finishReason).toBe('tool-calls');
    expect(result.steps[1]?.finishReason).toBe('stop');
    expect(result.text).toBe('The get_weather tool returned: {"city":"Berlin","temperature":18}');
  });

  it('generates structured output through text.format, valid against the schema', async () => {
    const City = z.object({ name: z.string(), population: z.number().int(), capital: z.boolean() });
    const { output } = await generateText({
      model: provider('gpt-4o-mini'),
      maxRetries: 0,
      providerOptions: stateless,
      prompt: 'Describe Lisbon, population 545000',
      output: Output.object({ schema: City }),
    });
    expect(City.parse(output)).toEqual({ name: 'Lisbon', population: 545000, capital: true });
  });
});
