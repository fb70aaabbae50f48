import { createOpenAI } from '@ai-sdk/openai';
import { generateText, Output, stepCountIs, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startStack, type Stack } from '../support/stack';
import { aiSdkWeatherTool } from '../support/weatherTool';

/**
 * The Vercel AI SDK with its OpenAI provider pointed at the gateway (`createOpenAI({ baseURL, apiKey })`) and
 * the chat-completions model factory (`provider.chat(deployment)`; the default factory speaks the Responses API).
 */

let stack: Stack;
let provider: ReturnType<typeof createOpenAI>;

beforeAll(async () => {
  stack = await startStack();
  provider = createOpenAI({ baseURL: stack.apiBaseUrl, apiKey: stack.callerToken });
});

afterAll(async () => {
  await stack.stop();
});

describe('Vercel AI SDK', () => {
  it('generateText runs a tool and answers with its result', async () => {
    const seen: string[] = [];
    const result = await generateText({
      model: provider.chat('gpt-4o-mini'),
      maxRetries: 0,
      prompt: 'Please call get_weather for Berlin',
      tools: { get_weather: aiSdkWeatherTool(seen) },
      stopWhen: stepCountIs(3),
    });
    expect(seen).toEqual(['Berlin']);
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]?.finishReason).toBe('tool-calls');
    expect(result.text).toBe('The get_weather tool returned: {"city":"Berlin","temperature":18}');
  });

  it('streamText streams the answer', async () => {
    const result = streamText({
      model: provider.chat('gpt-4o'),
      maxRetries: 0,
      prompt: 'Stream from the AI SDK',
    });
    const parts: string[] = [];
    for await (const part of result.textStream) parts.push(part);
    expect(parts.length).toBeGreaterThan(5);
    expect(parts.join('')).toBe('You said: "Stream from the AI SDK". This is gpt-4o on the local emulator.');
    expect(await result.finishReason).toBe('stop');
  });

  it('generates structured output valid against the schema', async () => {
    const Recipe = z.object({
      title: z.string(),
      servings: z.number().int().min(1).max(12),
      steps: z.array(z.object({ order: z.number().int(), text: z.string() })).min(2),
      vegetarian: z.boolean(),
    });
    const { output } = await generateText({
      model: provider.chat('gpt-4o-mini'),
      maxRetries: 0,
      prompt: 'A Risotto recipe for 4',
      output: Output.object({ schema: Recipe }),
    });
    expect(Recipe.parse(output)).toEqual({
      title: 'Risotto',
      servings: 4,
      steps: [
        { order: 4, text: 'Risotto' },
        { order: 4, text: 'Risotto' },
      ],
      vegetarian: true,
    });
  });
});
