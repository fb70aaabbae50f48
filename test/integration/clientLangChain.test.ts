import { AIMessage, HumanMessage, type AIMessageChunk, type BaseMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { ChatOpenAI } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startStack, type Stack } from '../support/stack';
import { weatherTool } from '../support/weatherTool';

/**
 * LangChain JS's ChatOpenAI pointed at the gateway with `configuration.baseURL`, through the flows its docs
 * lead with: invoke, stream, bindTools with a full tool round trip (`tool.invoke(toolCall)` puts `name` on the
 * tool message, which Azure rejects and the gateway removes) and withStructuredOutput.
 */

let stack: Stack;
let model: ChatOpenAI;

beforeAll(async () => {
  stack = await startStack();
  model = new ChatOpenAI({
    model: 'gpt-4o-mini',
    apiKey: stack.callerToken,
    configuration: { baseURL: stack.apiBaseUrl },
    maxRetries: 0,
  });
});

afterAll(async () => {
  await stack.stop();
});

const getWeather = tool(({ city }) => `Sunny and 24 degrees in ${city}`, {
  name: weatherTool.name,
  description: weatherTool.description,
  schema: weatherTool.input,
});

describe('LangChain ChatOpenAI', () => {
  it('invokes and gets the prompt quoted back', async () => {
    const reply = await model.invoke('Hello from LangChain');
    expect(reply.content).toBe(
      'You said: "Hello from LangChain". This is gpt-4o-mini on the local emulator.',
    );
    expect(reply).toBeInstanceOf(AIMessage);
  });

  it('streams chunks that join into the same answer', async () => {
    let text = '';
    let chunks = 0;
    for await (const chunk of await model.stream('Stream this please')) {
      text += typeof chunk.content === 'string' ? chunk.content : '';
      chunks += 1;
    }
    expect(text).toBe('You said: "Stream this please". This is gpt-4o-mini on the local emulator.');
    expect(chunks).toBeGreaterThan(5);
  });

  it('completes a tool round trip with bindTools and tool.invoke(toolCall)', async () => {
    const withTools = model.bindTools([getWeather]);
    const messages: BaseMessage[] = [new HumanMessage('Call get_weather for Rome')];
    const request = await withTools.invoke(messages);
    expect(request.tool_calls).toEqual([
      expect.objectContaining({ name: 'get_weather', args: { city: 'Rome' } }) as unknown,
    ]);
    messages.push(request);
    for (const call of request.tool_calls ?? []) messages.push(await getWeather.invoke(call));
    expect(messages.at(-1)).toMatchObject({ name: 'get_weather' });

    const answer = await withTools.invoke(messages);
    expect(answer).toBeInstanceOf(AIMessage);
    expect(answer.content).toBe('The get_weather tool returned: Sunny and 24 degrees in Rome');
    expect(answer.tool_calls).toEqual([]);
  });

  it('streams a tool call that LangChain assembles into one call', async () => {
    const withTools = model.bindTools([getWeather], { tool_choice: 'get_weather' });
    let gathered: AIMessageChunk | undefined;
    for await (const chunk of await withTools.stream('Weather for Madrid')) {
      gathered = gathered ? gathered.concat(chunk) : chunk;
    }
    expect(gathered?.tool_calls).toEqual([
      expect.objectContaining({ name: 'get_weather', args: { city: 'Madrid' } }) as unknown,
    ]);
  });

  it('returns structured output with withStructuredOutput', async () => {
    const Person = z.object({ name: z.string(), age: z.number().int(), tags: z.array(z.string()) });
    const structured = model.withStructuredOutput(Person, { name: 'person' });
    const person = await structured.invoke('Extract: Grace is 85 years old');
    expect(Person.parse(person)).toEqual({ name: 'Grace', age: 85, tags: ['Grace'] });
  });
});
