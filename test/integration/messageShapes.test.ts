import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack';

/**
 * Every message shape the official clients send, through the gateway to the emulator, which validates bodies as
 * strictly as Azure: a 200 here means the gateway forwarded only what Azure's schema for its API version allows.
 */

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { UPSTREAM_MAX_RETRIES: '0' } });
});

afterEach(async () => {
  await stack.emulator.admin.reset();
});

afterAll(async () => {
  await stack.stop();
});

interface Answer {
  status: number;
  body: {
    choices?: { message: { content: string | null } }[];
    error?: { message: string; code: string; param: string | null };
  };
}

async function chat(body: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(`${stack.apiBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.callerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

const toolCall = { id: 'call_abc', type: 'function', function: { name: 'lookup', arguments: '{"q":"tea"}' } };
const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }];
const lastQuestion = { role: 'user', content: 'Last question here' };

/** Each case: the messages a client sends (ending with the user question the emulator quotes back). */
const shapes: [string, Record<string, unknown>][] = [
  [
    'an assistant reply echoed as received (annotations, refusal null, audio null)',
    {
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello', refusal: null, annotations: [], audio: null },
        lastQuestion,
      ],
    },
  ],
  [
    'an assistant message from openai-node’s parse helper (parsed, refusal)',
    {
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: '{"a":1}', refusal: null, parsed: { a: 1 }, annotations: [] },
        lastQuestion,
      ],
    },
  ],
  [
    'tool calls with content null, stream index and parsed_arguments, then a LangChain tool message with name',
    {
      tools,
      messages: [
        { role: 'user', content: 'Use lookup' },
        {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            { ...toolCall, index: 0, function: { ...toolCall.function, parsed_arguments: { q: 'tea' } } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_abc', name: 'lookup', content: 'Green tea' },
        lastQuestion,
      ],
    },
  ],
  [
    'developer and system roles',
    {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        lastQuestion,
      ],
    },
  ],
  [
    'content part arrays in every role, with a prompt-cache hint',
    {
      tools,
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look', prompt_cache_breakpoint: { ttl: '30m' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } },
          ],
        },
        { role: 'assistant', content: [{ type: 'text', text: 'A cat.' }], tool_calls: [toolCall] },
        { role: 'tool', tool_call_id: 'call_abc', content: [{ type: 'text', text: 'cat' }] },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Last question here' }] },
      ],
    },
  ],
  [
    'the legacy function role and function_call',
    {
      functions: [{ name: 'lookup', parameters: { type: 'object' } }],
      messages: [
        { role: 'user', content: 'Use lookup' },
        { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '{}' } },
        { role: 'function', name: 'lookup', content: 'Green tea' },
        lastQuestion,
      ],
    },
  ],
  [
    'assistant output fields of Azure’s own responses (context, reasoning_content) and an empty tool_calls list',
    {
      messages: [
        { role: 'user', content: 'Hi' },
        {
          role: 'assistant',
          content: 'Hello',
          context: { citations: [] },
          reasoning_content: 'thinking',
          tool_calls: [],
          function_call: null,
        },
        lastQuestion,
      ],
    },
  ],
  ['safety_identifier, sent on as user', { safety_identifier: 'user-123', messages: [lastQuestion] }],
];

describe('inbound message shapes', () => {
  it.each(shapes)('forwards %s in a form the strict emulator accepts', async (_name, body) => {
    const answer = await chat(body);
    expect(answer.body.error).toBeUndefined();
    expect(answer.status).toBe(200);
    expect(answer.body.choices?.[0]?.message.content).toContain('Last question here');
    expect((await stack.emulator.admin.stats()).chatCalls).toBe(1);
  });
});

describe('what the gateway still refuses, naming the field', () => {
  it.each([
    ['data_sources', { data_sources: [] }, 'gateway’s identity'],
    ['user_security_context', { user_security_context: {} }, 'Defender'],
    ['service_tier', { service_tier: 'flex' }, 'deployment type'],
    ['store', { store: true }, 'stored completions are not enabled'],
    ['web_search_options', { web_search_options: {} }, 'web search'],
    ['messages[0].mood', { messages: [{ role: 'user', content: 'x', mood: 'happy' }] }, 'Unrecognized'],
  ])('refuses %s with a 400 that says why, without calling Azure', async (param, extra, why) => {
    const answer = await chat({ messages: [lastQuestion], ...extra });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ param, message: expect.stringContaining(why) as unknown });
    expect((await stack.emulator.admin.stats()).chatCalls).toBe(0);
  });

  it('passes through Azure’s own 400 for a value Azure validates, with Azure’s param and code', async () => {
    const answer = await chat({ messages: [lastQuestion], tool_choice: 'sometimes', tools });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ param: 'tool_choice', code: 'invalid_value' });
    expect((await stack.emulator.admin.stats()).chatCalls).toBe(1);
  });
});
