import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeChatRequestParser } from '../../src/lib/chat/chatRequest';
import { loadConfig } from '../../src/lib/config';
import { buildOpenApiDocument, SCHEMA_NAMES } from '../../src/lib/openapi';
import { baseEnv } from '../support/gatewayHarness';
import { Contract } from './contract';

// NOTE: a preview api-version, whose schema has every common option (reasoning_effort among them).
const config = loadConfig({
  ...baseEnv,
  AZURE_OPENAI_API_VERSION: '2025-04-01-preview',
  MAX_MESSAGES: '4',
  MAX_MESSAGE_CHARS: '40',
  MAX_CHOICES: '2',
});
const document = buildOpenApiDocument(config);
const contract = new Contract(document);
const parse = makeChatRequestParser({
  ...config.request,
  maxTokens: config.limits.maxTokens,
  apiVersion: config.openai.apiVersion,
});
const requestSchema = contract.component('ChatCompletionRequest');

type Json = Record<string, unknown>;

/** The routes the app registers, read from its function files (`route: '…'`), in the document's form. */
function registeredRoutes(): string[] {
  const dir = join(import.meta.dirname, '../../src/functions');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => [...readFileSync(join(dir, file), 'utf8').matchAll(/route:\s*'([^']+)'/g)])
    .map((match) => `/${match[1] ?? ''}`)
    .sort();
}

function refs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refs);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key === '$ref' && typeof inner === 'string' ? [inner] : refs(inner),
  );
}

const appAccepts = (body: unknown): boolean => {
  try {
    parse(body);
    return true;
  } catch {
    return false;
  }
};

const user = (content: unknown) => ({ role: 'user', content });

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and describes exactly the routes the app registers', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths as Json).sort()).toEqual(registeredRoutes());
  });

  it('has every $ref resolving and every schema compiling under strict JSON Schema 2020-12', () => {
    for (const name of SCHEMA_NAMES) expect(() => contract.component(name)).not.toThrow();
    for (const target of refs(document)) {
      expect(target).toMatch(/^#\/components\/schemas\//);
      expect(() => contract.schemaAt(target.slice(1))).not.toThrow();
    }
  });

  it('takes its request limits from the app settings', () => {
    const request = document.components.schemas.ChatCompletionRequest as { properties: Record<string, Json> };
    expect(request.properties.messages).toMatchObject({ maxItems: 4, minItems: 1 });
    const larger = buildOpenApiDocument(loadConfig({ ...baseEnv, MAX_MESSAGES: '9' }));
    const largerRequest = larger.components.schemas.ChatCompletionRequest as {
      properties: Record<string, Json>;
    };
    expect(largerRequest.properties.messages).toMatchObject({ maxItems: 9 });
  });

  it('needs a bearer token on every operation except the document and liveness when callers must sign in', () => {
    const secured = buildOpenApiDocument(
      loadConfig({
        ...baseEnv,
        AUTH_MODE: 'entra',
        AUTH_TENANT_ID: '8f4b3a2e-1c2d-4e5f-9a8b-7c6d5e4f3a2b',
        AUTH_CLIENT_ID: '5d3f0e4a-6b7c-4d8e-9f01-23456789abcd',
      }),
    );
    expect(secured.security).toEqual([{ entraId: [] }]);
    const paths = secured.paths as Record<string, Record<string, Json>>;
    expect(paths['/openapi.json']?.get?.security).toEqual([]);
    expect(paths['/health']?.get?.security).toEqual([{}, { entraId: [] }]);
    expect(document.security).toBeUndefined();
  });
});

describe('the request schema in the document agrees with the app’s own validation', () => {
  it.each([
    ['the smallest request', { messages: [user('Hi')] }],
    [
      'every common option',
      {
        model: 'gpt-4o-mini',
        messages: [{ role: 'system', content: 'Be brief.' }, user([{ type: 'text', text: 'Hi' }])],
        temperature: 0.2,
        top_p: 1,
        n: 2,
        stream: true,
        stream_options: { include_usage: true },
        stop: ['\n\n'],
        max_tokens: 100,
        presence_penalty: 0,
        frequency_penalty: 0.5,
        logit_bias: { '50256': -100 },
        seed: 7,
        user: 'u-1',
        response_format: { type: 'json_object' },
        tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
        tool_choice: 'auto',
        parallel_tool_calls: false,
        reasoning_effort: 'low',
      },
    ],
    ['stream_options set to null without stream', { messages: [user('Hi')], stream_options: null }],
  ])('both accept %s', (_name, body) => {
    expect([appAccepts(body), requestSchema(body)]).toEqual([true, true]);
  });

  it.each([
    ['no messages', {}],
    ['an unknown field', { messages: [user('Hi')], data_sources: [] }],
    ['a bad role', { messages: [{ role: 'robot', content: 'Hi' }] }],
    ['too many messages', { messages: Array.from({ length: 5 }, () => user('Hi')) }],
    ['a message over the length limit', { messages: [user('x'.repeat(41))] }],
    ['n above the cap', { messages: [user('Hi')], n: 3 }],
    ['stream_options without stream', { messages: [user('Hi')], stream_options: { include_usage: true } }],
    [
      'a logit_bias with 301 entries',
      {
        messages: [user('Hi')],
        logit_bias: Object.fromEntries(Array.from({ length: 301 }, (_, index) => [String(index), 1])),
      },
    ],
  ])('both reject %s', (_name, body) => {
    expect([appAccepts(body), requestSchema(body)]).toEqual([false, false]);
  });

  it('agrees on generated bodies, valid and invalid', () => {
    // NOTE: each field is usually valid, so bodies the app accepts are as common as ones it rejects.
    const mostly = (valid: fc.Arbitrary<unknown>, invalid: fc.Arbitrary<unknown>) =>
      fc.oneof({ arbitrary: valid, weight: 20 }, { arbitrary: invalid, weight: 1 });
    const text = fc.string({ maxLength: 40 });
    const message = fc.record(
      {
        role: mostly(
          fc.constantFrom('system', 'developer', 'user', 'assistant'),
          fc.constantFrom('tool', 'robot'),
        ),
        content: mostly(
          fc.oneof(
            text,
            fc.array(fc.record({ type: fc.constant('text'), text }), { minLength: 1, maxLength: 2 }),
          ),
          fc.oneof(
            fc.string({ minLength: 41, maxLength: 50 }),
            fc.constant(null),
            fc.integer(),
            fc.constant([]),
          ),
        ),
        name: mostly(fc.constantFrom('alice', 'bob_2'), fc.constantFrom('not a name', '')),
      },
      { requiredKeys: ['role', 'content'] },
    );
    const range = (min: number, max: number) =>
      mostly(
        fc.oneof(fc.double({ min, max, noNaN: true }), fc.constant(null)),
        fc.oneof(fc.double({ min: max, max: max + 5, noNaN: true, minExcluded: true }), fc.constant('1')),
      );
    const body = fc.record(
      {
        model: mostly(fc.constantFrom('gpt-4o-mini', 'gpt-4o'), fc.constantFrom('bad name', '')),
        messages: mostly(
          fc.array(message, { minLength: 1, maxLength: 4 }),
          fc.array(message, { minLength: 5, maxLength: 6 }),
        ),
        temperature: range(0, 2),
        top_p: range(0, 1),
        presence_penalty: range(-2, 2),
        n: mostly(fc.integer({ min: 1, max: 2 }), fc.constantFrom(0, 3, 1.5)),
        stream: mostly(fc.boolean(), fc.constant('yes')),
        stream_options: mostly(
          fc.oneof(fc.constant(null), fc.record({ include_usage: fc.boolean() })),
          fc.constant({ x: 1 }),
        ),
        stop: mostly(
          fc.oneof(text, fc.array(text, { maxLength: 4 }), fc.constant(null)),
          fc.array(text, { minLength: 5, maxLength: 5 }),
        ),
        max_tokens: mostly(fc.integer({ min: 1, max: 4096 }), fc.constantFrom(0, 4097, 2.5)),
        logit_bias: mostly(
          fc.dictionary(fc.constantFrom('1', '42', '50256'), fc.integer({ min: -100, max: 100 }), {
            maxKeys: 3,
          }),
          fc.dictionary(fc.constantFrom('x', '42'), fc.integer({ min: 101, max: 200 }), {
            minKeys: 1,
            maxKeys: 2,
          }),
        ),
        seed: mostly(fc.integer(), fc.constantFrom(2 ** 60, 0.5)),
        user: mostly(text, fc.constant(null)),
        response_format: mostly(
          fc.constantFrom({ type: 'text' }, { type: 'json_object' }),
          fc.constant({ type: 'xml' }),
        ),
        tool_choice: mostly(
          fc.constantFrom('auto', 'none', { type: 'function', function: { name: 'f' } }),
          fc.constant('sometimes'),
        ),
        reasoning_effort: mostly(fc.constantFrom('low', 'high'), fc.constant('extreme')),
        unknown_field: fc.constant(true),
      },
      { requiredKeys: ['messages'] },
    );
    const verdicts = { accepted: 0, rejected: 0 };
    fc.assert(
      fc.property(
        fc.oneof(
          { arbitrary: body, weight: 1 },
          { arbitrary: body.map(({ unknown_field: _, ...rest }) => rest), weight: 3 },
        ),
        (candidate) => {
          const accepted = appAccepts(candidate);
          verdicts[accepted ? 'accepted' : 'rejected'] += 1;
          return accepted === requestSchema(candidate);
        },
      ),
      { numRuns: 600, seed: 20_250_601 },
    );
    expect(verdicts.accepted).toBeGreaterThan(100);
    expect(verdicts.rejected).toBeGreaterThan(100);
  });
});
