import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';
import {
  datedChatUrl,
  postChat,
  readEvents,
  serviceToken,
  userMessage,
  v1ChatUrl,
} from './emulator-requests';

/** The emulator's chat behaviour that clients depend on, straight on the wire (no gateway in between). */

let emulator: Emulator;
let token: string;

beforeAll(async () => {
  emulator = await startEmulator();
  token = await serviceToken(emulator);
});

afterAll(async () => {
  await emulator.close();
});

interface Body {
  error?: { message: string; type: string; param: string | null; code: string | null };
  choices: {
    finish_reason: string;
    message: {
      content: string | null;
      tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
    };
  }[];
  usage: { completion_tokens: number; completion_tokens_details: { reasoning_tokens: number } };
}

async function send(body: unknown, url = datedChatUrl(emulator)): Promise<{ status: number; body: Body }> {
  const response = await postChat(url, body, { token });
  return { status: response.status, body: (await response.json()) as Body };
}

const echoed = { role: 'assistant', content: 'Hi', refusal: null, annotations: [], parsed: null };

describe('request validation as strict as Azure', () => {
  it('refuses an assistant message echoed unnormalised, in Azure’s words', async () => {
    const answer = await send({ messages: [userMessage('Hi'), echoed, userMessage('Again')] });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toEqual({
      message:
        "Additional properties are not allowed ('annotations', 'parsed' were unexpected) - 'messages.1'",
      type: 'invalid_request_error',
      param: null,
      code: null,
    });
  });

  it('refuses a tool message with name, and an unknown top-level argument', async () => {
    const tool = { role: 'tool', tool_call_id: 'call_1', name: 'lookup', content: 'x' };
    const answer = await send({ messages: [userMessage('Hi'), tool] });
    expect(answer.body.error?.message).toBe(
      "Additional properties are not allowed ('name' was unexpected) - 'messages.1'",
    );
    const unknown = await send({ messages: [userMessage('Hi')], prompt_cache_key: 'k' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.message).toBe('Unrecognized request argument supplied: prompt_cache_key');
  });

  it('applies the schema of the API surface: developer and reasoning_effort only on newer ones, assistant audio only on v1', async () => {
    const developer = { messages: [{ role: 'developer', content: 'Be brief' }, userMessage('Hi')] };
    expect((await send(developer)).body.error?.message).toContain("- 'messages.0.role'");
    expect((await send(developer, datedChatUrl(emulator, 'gpt-4o-mini', '2025-04-01-preview'))).status).toBe(
      200,
    );
    expect((await send({ ...developer, model: 'gpt-4o-mini' }, v1ChatUrl(emulator))).status).toBe(200);

    const audio = {
      messages: [{ role: 'assistant', content: null, audio: { id: 'audio_1' } }, userMessage('Hi')],
    };
    expect((await send({ ...audio, model: 'gpt-4o-mini' }, v1ChatUrl(emulator))).status).toBe(200);
    const preview = await send(audio, datedChatUrl(emulator, 'gpt-4o-mini', '2025-04-01-preview'));
    expect(preview.body.error?.message).toContain("('audio' was unexpected)");
  });
});

describe('answers derived from the prompt', () => {
  it('reports finish_reason length only when the cap cut the answer', async () => {
    const roomy = await send({ messages: [userMessage('Short')], max_tokens: 100 });
    expect(roomy.body.choices[0]?.finish_reason).toBe('stop');
    expect(roomy.body.choices[0]?.message.content).toBe(
      'You said: "Short". This is gpt-4o-mini on the local emulator.',
    );
    const tight = await send({ messages: [userMessage('Short')], max_tokens: 3 });
    expect(tight.body.choices[0]).toMatchObject({
      finish_reason: 'length',
      message: { content: 'You said: "Short".' },
    });
  });

  it('calls a tool the user names, with arguments valid against its schema, and quotes its result after', async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'book_table',
          parameters: {
            type: 'object',
            properties: {
              restaurant: { type: 'string' },
              guests: { type: 'integer', minimum: 1, maximum: 8 },
              time: { type: 'string', enum: ['lunch', 'dinner'] },
              vegan: { type: ['boolean', 'null'] },
            },
            required: ['restaurant', 'guests', 'time', 'vegan'],
            additionalProperties: false,
          },
          strict: true,
        },
      },
    ];
    const ask = userMessage('Please book_table at Noma for 12 people');
    const first = await send({ messages: [ask], tools });
    expect(first.body.choices[0]?.finish_reason).toBe('tool_calls');
    const call = first.body.choices[0]?.message.tool_calls?.[0];
    expect(first.body.choices[0]?.message.content).toBeNull();
    expect(call).toMatchObject({ type: 'function', function: { name: 'book_table' } });
    expect(JSON.parse(call?.function.arguments ?? '')).toEqual({
      restaurant: 'Noma',
      guests: 8,
      time: 'lunch',
      vegan: true,
    });

    const noTool = await send({ messages: [userMessage('Just chat')], tools });
    expect(noTool.body.choices[0]?.finish_reason).toBe('stop');
    const none = await send({ messages: [ask], tools, tool_choice: 'none' });
    expect(none.body.choices[0]?.finish_reason).toBe('stop');

    const followUp = await send({
      tools,
      messages: [
        ask,
        { role: 'assistant', content: null, tool_calls: first.body.choices[0]?.message.tool_calls },
        { role: 'tool', tool_call_id: call?.id, content: 'Booked for 8 at 13:00' },
      ],
    });
    expect(followUp.body.choices[0]).toMatchObject({
      finish_reason: 'stop',
      message: { content: 'The book_table tool returned: Booked for 8 at 13:00' },
    });
  });

  it('streams a tool call as Azure does: id and name first, then argument fragments, then finish tool_calls', async () => {
    const response = await postChat(
      datedChatUrl(emulator),
      {
        messages: [userMessage('Weather in Lima')],
        tools: [
          {
            type: 'function',
            function: {
              name: 'weather',
              parameters: { type: 'object', properties: { city: { type: 'string' } } },
            },
          },
        ],
        tool_choice: { type: 'function', function: { name: 'weather' } },
        stream: true,
      },
      { token },
    );
    const events = await readEvents(response, performance.now());
    const deltas = events.slice(1, -1).map(
      (event) =>
        (
          JSON.parse(event.data) as {
            choices: { delta: Record<string, unknown>; finish_reason: string | null }[];
          }
        ).choices[0],
    );
    expect(deltas[0]?.delta).toMatchObject({
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          index: 0,
          id: expect.stringMatching(/^call_/) as unknown,
          type: 'function',
          function: { name: 'weather', arguments: '' },
        },
      ],
    });
    const fragments = deltas.slice(1, -1).map((choice) => {
      const calls = choice?.delta.tool_calls as { index: number; function: { arguments: string } }[];
      expect(calls[0]?.index).toBe(0);
      return calls[0]?.function.arguments ?? '';
    });
    expect(fragments.length).toBeGreaterThan(2);
    expect(JSON.parse(fragments.join(''))).toEqual({ city: 'Lima' });
    expect(deltas.at(-1)).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
  });

  it('answers json_schema with schema-valid JSON and json_object with a JSON object', async () => {
    const schema = {
      type: 'object',
      properties: {
        city: { type: 'string' },
        rank: { type: 'integer' },
        tags: { type: 'array', items: { $ref: '#/$defs/tag' } },
      },
      required: ['city', 'rank', 'tags'],
      additionalProperties: false,
      $defs: { tag: { type: 'string', minLength: 3 } },
    };
    const structured = await send({
      messages: [userMessage('Rank Vienna 1st')],
      response_format: { type: 'json_schema', json_schema: { name: 'rank', schema, strict: true } },
    });
    expect(JSON.parse(structured.body.choices[0]?.message.content ?? '')).toEqual({
      city: 'Vienna',
      rank: 1,
      tags: ['Vienna'],
    });
    const object = await send({
      messages: [userMessage('JSON please')],
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(object.body.choices[0]?.message.content ?? '')).toEqual({
      reply: 'You said: "JSON please". This is gpt-4o-mini on the local emulator.',
    });
  });
});

describe('the o4-mini reasoning deployment', () => {
  const url = () => datedChatUrl(emulator, 'o4-mini', '2025-04-01-preview');

  it('refuses max_tokens and temperature as Azure does', async () => {
    const maxTokens = await send({ messages: [userMessage('Think')], max_tokens: 10 }, url());
    expect(maxTokens.body.error).toEqual({
      message:
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      type: 'invalid_request_error',
      param: 'max_tokens',
      code: 'unsupported_parameter',
    });
    const temperature = await send({ messages: [userMessage('Think')], temperature: 0.2 }, url());
    expect(temperature.body.error).toMatchObject({ param: 'temperature', code: 'unsupported_value' });
    expect((await send({ messages: [userMessage('Think')], temperature: 1 }, url())).status).toBe(200);
  });

  it('spends reasoning tokens by effort within max_completion_tokens and reports them', async () => {
    const low = await send({ messages: [userMessage('Think')], reasoning_effort: 'low' }, url());
    const high = await send({ messages: [userMessage('Think')], reasoning_effort: 'high' }, url());
    const lowReasoning = low.body.usage.completion_tokens_details.reasoning_tokens;
    expect(lowReasoning).toBeGreaterThan(0);
    expect(high.body.usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(lowReasoning);
    expect(low.body.choices[0]?.message.content).toContain('"Think"');

    const starved = await send({ messages: [userMessage('Think')], max_completion_tokens: 4 }, url());
    expect(starved.body.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: '' } });
    expect(starved.body.usage).toMatchObject({
      completion_tokens: 4,
      completion_tokens_details: { reasoning_tokens: 4 },
    });

    const unknown = await send({ messages: [userMessage('Think')], reasoning_effort: 'extreme' }, url());
    expect(unknown.body.error).toMatchObject({ param: 'reasoning_effort', code: 'invalid_value' });
  });
});
