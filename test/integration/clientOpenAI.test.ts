import OpenAI from 'openai';
import { zodFunction, zodResponseFormat } from 'openai/helpers/zod';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startStack, type Stack } from '../support/stack';
import { weatherTool } from '../support/weatherTool';

/**
 * The openai package's own flows against the gateway, as its README shows them: the multi-turn pattern that
 * pushes `choices[0].message` back, `parse` with a zod schema, the `runTools` loop and streamed tool calls.
 * Every assistant message they echo back carries output-only fields that Azure rejects; the gateway removes them.
 */

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({
    baseURL: stack.apiBaseUrl,
    apiKey: stack.callerToken,
    maxRetries: 0,
    timeout: 10_000,
  });
});

afterAll(async () => {
  await stack.stop();
});

describe('the openai client', () => {
  it('holds a multi-turn conversation by pushing each reply back as it came', async () => {
    const messages: ChatCompletionMessageParam[] = [
      { role: 'developer', content: 'Answer briefly.' },
      { role: 'user', content: 'My name is Ada' },
    ];
    const first = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    const reply = first.choices[0]?.message;
    expect(reply).toMatchObject({ role: 'assistant', refusal: null, annotations: [] });
    expect(reply?.content).toContain('My name is Ada');
    if (!reply) throw new Error('no reply');
    messages.push(reply, { role: 'user', content: 'What is my name?' });

    const second = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(second.choices[0]?.message.content).toContain('What is my name?');
    expect(second.choices[0]?.finish_reason).toBe('stop');
  });

  it('parses a structured answer with a zod schema, and the parsed message goes back in the next turn', async () => {
    const City = z.object({ name: z.string(), population: z.number().int(), capital: z.boolean() });
    const messages: ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Describe Lisbon, population 545000' },
    ];
    const completion = await client.chat.completions.parse({
      model: 'gpt-4o',
      messages,
      response_format: zodResponseFormat(City, 'city'),
    });
    const message = completion.choices[0]?.message;
    expect(message?.parsed).toEqual({ name: 'Lisbon', population: 545000, capital: true });
    expect(City.parse(JSON.parse(message?.content ?? ''))).toEqual(message?.parsed);
    if (!message) throw new Error('no message');

    messages.push(message, { role: 'user', content: 'And Porto?' });
    const next = await client.chat.completions.create({ model: 'gpt-4o', messages });
    expect(next.choices[0]?.message.content).toContain('And Porto?');
  });

  it('runs the runTools loop: the model calls the tool, the tool result comes back quoted', async () => {
    const calls: unknown[] = [];
    const runner = client.chat.completions.runTools({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Use get_weather for Paris' }],
      tools: [
        zodFunction({
          name: weatherTool.name,
          parameters: weatherTool.input,
          function: (args) => {
            calls.push(args);
            return { city: args.city, temperature: 21 };
          },
        }),
      ],
    });
    const answer = await runner.finalContent();
    expect(calls).toEqual([{ city: 'Paris' }]);
    expect(answer).toBe('The get_weather tool returned: {"city":"Paris","temperature":21}');
    expect(runner.messages.map((message) => message.role)).toEqual([
      'user',
      'assistant',
      'tool',
      'assistant',
    ]);
  });

  it('streams tool calls: id and name first, the arguments in fragments that join into valid JSON', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'What is the weather in Oslo?' }],
      tools: [
        {
          type: 'function',
          function: { name: weatherTool.name, parameters: weatherTool.parameters },
        },
      ],
      tool_choice: 'required',
      stream: true,
    });
    const deltas: { id?: string; name?: string; arguments?: string }[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        deltas.push({
          ...(call.id ? { id: call.id } : {}),
          ...(call.function?.name ? { name: call.function.name } : {}),
          ...(call.function?.arguments ? { arguments: call.function.arguments } : {}),
        });
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(deltas[0]).toMatchObject({ id: expect.stringMatching(/^call_/) as unknown, name: 'get_weather' });
    const fragments = deltas.slice(1).map((delta) => delta.arguments ?? '');
    expect(fragments.length).toBeGreaterThan(1);
    expect(JSON.parse(fragments.join(''))).toEqual({ city: 'Oslo' });
    expect(finish).toBe('tool_calls');

    const helper = client.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'What is the weather in Oslo?' }],
      tools: [zodFunction({ name: weatherTool.name, parameters: weatherTool.input })],
      tool_choice: { type: 'function', function: { name: weatherTool.name } },
    });
    const final = await helper.finalChatCompletion();
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'get_weather', parsed_arguments: { city: 'Oslo' } },
    });
  });

  it('passes Azure’s own 400 through with Azure’s param and code', async () => {
    const call = client.chat.completions.create({
      model: 'o4-mini',
      messages: [{ role: 'user', content: 'Think' }],
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- older clients still send it; Azure refuses it here
      max_tokens: 50,
    });
    await expect(call).rejects.toMatchObject({
      status: 400,
      param: 'max_tokens',
      code: 'unsupported_parameter',
      message: expect.stringContaining("Use 'max_completion_tokens' instead") as unknown,
    });
  });

  it('reports reasoning tokens from the reasoning deployment, within max_completion_tokens', async () => {
    const completion = await client.chat.completions.create({
      model: 'o4-mini',
      messages: [{ role: 'user', content: 'Think about tea' }],
      max_completion_tokens: 200,
    });
    expect(completion.choices[0]?.message.content).toContain('Think about tea');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    const reasoning = completion.usage?.completion_tokens_details?.reasoning_tokens ?? 0;
    expect(reasoning).toBeGreaterThan(0);
    expect(completion.usage?.completion_tokens).toBeGreaterThan(reasoning);
  });
});
