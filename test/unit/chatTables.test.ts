import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { messageFields, type FieldRule } from '../../src/lib/chat/chatMessages';
import { azureOnlyParameters, chatParameters, chatSurfaceOf } from '../../src/lib/chat/chatParameters';
import { makeChatRequestParser } from '../../src/lib/chat/chatRequest';
import { thrown } from '../support/thrown';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const limits = { maxMessages: 8, maxMessageChars: 200, maxChoices: 2, maxTokens: 4096 };
const parserFor = (apiVersion: string) => makeChatRequestParser({ ...limits, apiVersion });

const decisionWords = {
  forward: 'forward',
  limit: 'forward with a limit',
  gateway: 'handled in the gateway',
  refuse: 'refused',
};
const ruleWords = { forward: 'sent', drop: 'dropped', surface: 'per API surface' };

describe('the README tables', () => {
  it('state the decision of every chat parameter as the code makes it', () => {
    for (const [name, entry] of Object.entries(chatParameters)) {
      expect(readme, name).toContain(`| \`${name}\` | ${decisionWords[entry.decision]} |`);
    }
    for (const name of Object.keys(azureOnlyParameters)) {
      expect(readme, name).toContain(`| \`${name}\` (Azure only) | refused |`);
    }
  });

  it('state what happens to every message field, role by role', () => {
    for (const [role, fields] of Object.entries(messageFields)) {
      for (const [field, { rule }] of Object.entries(fields as Record<string, FieldRule>)) {
        expect(readme, `${role}.${field}`).toContain(`| \`${role}\` | \`${field}\` | ${ruleWords[rule]}`);
      }
    }
  });
});

describe('normalisation per API surface', () => {
  const developer = {
    messages: [
      { role: 'developer', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ],
  };

  it('derives the surface from the api-version', () => {
    expect(['2024-10-21', '2025-04-01-preview', 'v1', 'preview'].map(chatSurfaceOf)).toEqual([
      'ga',
      'preview',
      'v1',
      'v1',
    ]);
  });

  it('sends developer as system where the dated GA schema lacks the role, as developer elsewhere', () => {
    expect(parserFor('2024-10-21')(developer).messages[0]?.role).toBe('system');
    expect(parserFor('2025-04-01-preview')(developer).messages[0]?.role).toBe('developer');
    expect(parserFor('v1')(developer).messages[0]?.role).toBe('developer');
  });

  it('keeps an assistant audio reference on v1 only, reduced to its id', () => {
    const body = {
      messages: [
        {
          role: 'assistant',
          content: null,
          audio: { id: 'audio_1', transcript: 'hi', data: 'AAAA', expires_at: 1 },
        },
        { role: 'user', content: 'Hi' },
      ],
    };
    expect(parserFor('v1')(body).messages[0]).toEqual({
      role: 'assistant',
      content: null,
      audio: { id: 'audio_1' },
    });
    expect(thrown(() => parserFor('2024-10-21')(body))).toMatchObject({
      status: 400,
      param: 'messages[0].audio',
    });
  });

  it('reduces an echoed assistant message to the fields Azure allows', () => {
    const parsed = parserFor('2024-10-21')({
      messages: [
        { role: 'user', content: 'Hi' },
        {
          role: 'assistant',
          content: null,
          refusal: null,
          annotations: [],
          parsed: null,
          audio: null,
          tool_calls: [
            {
              index: 0,
              id: 'c1',
              type: 'function',
              function: { name: 'f', arguments: '{}', parsed_arguments: {} },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', name: 'f', content: 'done' },
      ],
    });
    expect(parsed.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'done' },
    ]);
  });

  it('passes enumerations Azure validates as strings, and sends safety_identifier as user', () => {
    const parsed = parserFor('v1')({
      messages: [{ role: 'user', content: 'Hi' }],
      reasoning_effort: 'xhigh',
      verbosity: 'low',
      safety_identifier: 'u-1',
    });
    expect(parsed).toMatchObject({ reasoning_effort: 'xhigh', verbosity: 'low', user: 'u-1' });
    expect(parsed).not.toHaveProperty('safety_identifier');
    expect(
      thrown(() => parserFor('v1')({ messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 7 })),
    ).toMatchObject({
      param: 'reasoning_effort',
    });
  });
});
