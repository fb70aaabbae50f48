import * as z from 'zod';
import { buildChatRequestSchema } from './chat/chatRequest';
import type { Config } from './config';
import { errorCodeNames } from './errorCodes';
import type { ErrorType } from './errors';
import type { ModelEntry } from './catalog/modelCatalog';

/**
 * The OpenAPI 3.1 description of the API. The chat request body is generated from the very schema the app
 * validates requests with, and responses from the zod schemas below, whose types are checked against the
 * types the handlers return; so the document cannot silently drift from the code.
 */

const nullableString = z.string().nullable();
const timestamp = z.iso.datetime().nullable();

export const modelEntrySchema = z
  .strictObject({
    id: z
      .string()
      .describe('The deployment name (pass it as `model`), or `name@version` in a region catalog.'),
    object: z.literal('model'),
    created: z.int().describe('When the deployment was created (Unix seconds); 0 in a region catalog.'),
    owned_by: z.string(),
    model: z.strictObject({ name: nullableString, version: nullableString, format: nullableString }),
    capabilities: z
      .record(z.string(), z.union([z.boolean(), z.number(), z.string()]))
      .describe('Flags such as chatCompletion or embeddings, and limits such as maxContextToken.'),
    lifecycle_status: nullableString.describe('GenerallyAvailable, Preview, Deprecating, Deprecated…'),
    retirement_date: timestamp.describe('When inference on this model version retires, if announced.'),
    deprecation: z.strictObject({ inference: timestamp, fine_tune: timestamp }),
    sku: z.strictObject({ name: z.string(), capacity: z.number().nullable() }).nullable(),
    skus: z
      .array(
        z.strictObject({
          name: z.string(),
          capacity_default: z.number().nullable(),
          capacity_max: z.number().nullable(),
        }),
      )
      .exactOptional()
      .describe('Region catalog only: the SKUs the model can be deployed with.'),
    is_default_version: z.boolean().exactOptional().describe('Region catalog only.'),
  })
  .describe('A model deployment (GET /models) or a model a region offers (GET /catalog/models).');

export const modelListSchema = z.strictObject({ object: z.literal('list'), data: z.array(modelEntrySchema) });

const errorTypes = [
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'rate_limit_error',
  'upstream_error',
  'server_error',
] as const satisfies readonly ErrorType[];

const filterVerdict = z.looseObject({
  filtered: z.boolean(),
  severity: z.string().exactOptional(),
  detected: z.boolean().exactOptional(),
});

export const errorSchema = z
  .strictObject({
    error: z.strictObject({
      message: z.string(),
      type: z.enum(errorTypes),
      code: z
        .union([
          z.enum(errorCodeNames).describe('A code the gateway chose; the README lists what each means.'),
          z.string().describe('A code Azure OpenAI chose for a 400 it gave (e.g. context_length_exceeded).'),
        ])
        .describe('Stable and machine-readable.'),
      param: nullableString.describe('The request field at fault, as a path such as messages[0].content.'),
      content_filter_result: z
        .record(z.string(), filterVerdict)
        .exactOptional()
        .describe('With code content_filter: the Azure content filter categories and their verdicts.'),
    }),
  })
  .describe('Every error response, and the last event of a stream that fails after it started.');

const finishReason = z.enum(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']).nullable();

const usageSchema = z.looseObject({
  prompt_tokens: z.int(),
  completion_tokens: z.int(),
  total_tokens: z.int(),
});

const toolCallSchema = z.looseObject({
  id: z.string().exactOptional(),
  type: z.literal('function').exactOptional(),
  function: z.looseObject({ name: z.string().exactOptional(), arguments: z.string().exactOptional() }),
});

export const chatCompletionSchema = z
  .looseObject({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.int(),
    model: z.string().describe('The model name (not the deployment name).'),
    choices: z.array(
      z.looseObject({
        index: z.int(),
        message: z.looseObject({
          role: z.literal('assistant'),
          content: nullableString,
          refusal: nullableString.exactOptional(),
          tool_calls: z.array(toolCallSchema).exactOptional(),
        }),
        finish_reason: finishReason,
        content_filter_results: z.record(z.string(), z.unknown()).exactOptional(),
      }),
    ),
    usage: usageSchema.exactOptional(),
    prompt_filter_results: z.array(z.looseObject({ prompt_index: z.int() })).exactOptional(),
  })
  .describe('Azure OpenAI’s chat completion, content-filter annotations included.');

export const chatCompletionChunkSchema = z
  .looseObject({
    id: z.string(),
    object: z.enum(['chat.completion.chunk', '']).describe('Empty in Azure’s first (prompt filter) event.'),
    created: z.int(),
    model: z.string(),
    choices: z.array(
      z.looseObject({
        index: z.int(),
        delta: z.looseObject({
          role: z.literal('assistant').exactOptional(),
          content: nullableString.exactOptional(),
          refusal: nullableString.exactOptional(),
          tool_calls: z.array(toolCallSchema.extend({ index: z.int() })).exactOptional(),
        }),
        finish_reason: finishReason.exactOptional(),
      }),
    ),
    usage: usageSchema.nullable().exactOptional().describe('Only in the last chunk, with include_usage.'),
  })
  .describe('One `data:` event of a streamed chat completion.');

export const healthSchema = z.strictObject({
  status: z.literal('ok'),
  deployment: z.string().exactOptional().describe('With deep=true: the deployment that answered.'),
  checks: z.strictObject({ token: z.literal('ok'), chat: z.literal('ok') }).exactOptional(),
});

/** Mutually assignable with the same keys: an optional field present on one side only still counts. */
type Equal<A, B> = [A, keyof A] extends [B, keyof B]
  ? [B, keyof B] extends [A, keyof A]
    ? true
    : false
  : false;
type Assert<T extends true> = T;
// NOTE: compile-time guards: a field added to the handlers' types fails the type check until described here.
export type ModelEntryDescribed = Assert<Equal<z.output<typeof modelEntrySchema>, ModelEntry>>;
export type ErrorTypesDescribed = Assert<Equal<(typeof errorTypes)[number], ErrorType>>;

export const SCHEMA_NAMES = [
  'ChatCompletionRequest',
  'ChatCompletion',
  'ChatCompletionChunk',
  'ModelEntry',
  'ModelList',
  'Health',
  'Error',
] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

type JsonObject = Record<string, unknown>;

const ref = (name: SchemaName): JsonObject => ({ $ref: `#/components/schemas/${name}` });

/**
 * JSON Schema cannot see zod refinements, so the chat schema's two (stream_options only with stream: true,
 * at most 300 logit_bias entries) are restated here; the test that runs the app's parser and this document
 * over the same bodies keeps both in step.
 */
function restateRefinements(request: JsonObject): JsonObject {
  const properties = request.properties as Record<string, JsonObject | undefined>;
  const logitBias = (properties.logit_bias?.anyOf ?? []) as JsonObject[];
  const map = logitBias.find((option) => option.type === 'object');
  if (!map)
    throw new Error('The chat request schema no longer has a logit_bias map; update the OpenAPI document.');
  map.maxProperties = 300;
  return {
    ...request,
    if: { required: ['stream_options'], properties: { stream_options: { type: 'object' } } },
    then: { required: ['stream'], properties: { stream: { const: true } } },
  };
}

function componentSchemas(config: Config): Record<SchemaName, JsonObject> {
  const registry = z.registry<{ id: SchemaName }>();
  registry.add(
    buildChatRequestSchema({
      ...config.request,
      maxTokens: config.limits.maxTokens,
      apiVersion: config.openai.apiVersion,
    }),
    {
      id: 'ChatCompletionRequest',
    },
  );
  registry.add(chatCompletionSchema, { id: 'ChatCompletion' });
  registry.add(chatCompletionChunkSchema, { id: 'ChatCompletionChunk' });
  registry.add(modelEntrySchema, { id: 'ModelEntry' });
  registry.add(modelListSchema, { id: 'ModelList' });
  registry.add(healthSchema, { id: 'Health' });
  registry.add(errorSchema, { id: 'Error' });
  // NOTE: input shapes describe what a client may send; response schemas have no transforms, so io is moot there.
  const { schemas } = z.toJSONSchema(registry, {
    uri: (id) => `#/components/schemas/${id}`,
    io: 'input',
    unrepresentable: 'throw',
  });
  const result = {} as Record<SchemaName, JsonObject>;
  for (const name of SCHEMA_NAMES) {
    // NOTE: $schema and a fragment $id are not allowed inside an OpenAPI component; the document's dialect applies.
    const { $schema: _schema, $id: _id, ...schema } = schemas[name] as JsonObject;
    result[name] = schema;
  }
  result.ChatCompletionRequest = restateRefinements(result.ChatCompletionRequest);
  return result;
}

const header = (description: string, schema: JsonObject = { type: 'string' }): JsonObject => ({
  description,
  required: true,
  schema,
});

const requestIdHeader = header(
  'Identifies the request in the app’s logs; quote it when reporting a problem.',
  {
    type: 'string',
    format: 'uuid',
  },
);
const retryHeaders = {
  'retry-after': header('Seconds to wait before retrying.', { type: 'integer', minimum: 1 }),
  'retry-after-ms': header('Milliseconds to wait before retrying.', { type: 'integer', minimum: 0 }),
};

const json = (schema: JsonObject): JsonObject => ({ 'application/json': { schema } });

const errorResponse = (description: string, headers: JsonObject = {}): JsonObject => ({
  description,
  headers: { 'x-request-id': requestIdHeader, ...headers },
  content: json(ref('Error')),
});

const ok = (description: string, content: JsonObject): JsonObject => ({
  description,
  headers: { 'x-request-id': requestIdHeader },
  content,
});

const callerErrors: JsonObject = {
  '401': errorResponse('No valid Microsoft Entra access token for this API (code invalid_token).', {
    'www-authenticate': header('The bearer challenge, with the reason.'),
  }),
  '403': errorResponse(
    'The token lacks the required scope or app role, or is an app-only token where no app role is required.',
  ),
  '429': errorResponse('Too many requests or tokens for this caller or the deployment.', retryHeaders),
  '500': errorResponse('An unexpected error, or invalid app settings (code configuration_error).'),
};

const upstreamErrors: JsonObject = {
  '502': errorResponse('Azure refused or failed (upstream_permission_denied, upstream_error…).'),
  '503': errorResponse('The app could not get a Microsoft Entra token for Azure (credential_unavailable).'),
  '504': errorResponse('Azure did not answer in time (upstream_timeout).'),
};

const query = (name: string, description: string, schema: JsonObject): JsonObject => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

export type OpenApiDocument = JsonObject & {
  components: { schemas: Record<SchemaName, JsonObject>; securitySchemes: JsonObject };
};

/** The document for this app's settings: limits in the request schema follow them. */
export function buildOpenApiDocument(config: Config): OpenApiDocument {
  const secured = config.auth.mode === 'entra';
  const modelsResponses = { ...callerErrors, ...upstreamErrors };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Keyless Azure OpenAI gateway',
      version: '1.0.0',
      description:
        'An OpenAI-compatible API in front of Azure OpenAI. Use any OpenAI client with baseURL set to this ' +
        'server URL and apiKey set to a Microsoft Entra access token for this API.',
    },
    servers: [{ url: '/api' }],
    ...(secured ? { security: [{ entraId: [] }] } : {}),
    paths: {
      '/chat/completions': {
        post: {
          operationId: 'createChatCompletion',
          summary: 'Create a chat completion; `model` is the deployment name.',
          requestBody: { required: true, content: json(ref('ChatCompletionRequest')) },
          responses: {
            '200': ok('The completion; with stream: true, server-sent events.', {
              ...json(ref('ChatCompletion')),
              'text/event-stream': {
                schema: {
                  type: 'string',
                  description:
                    'Events `data: <ChatCompletionChunk>`, ending with `data: [DONE]`, or with a final ' +
                    '`data: <Error>` if the stream fails after it started.',
                },
                'x-event-data': { anyOf: [ref('ChatCompletionChunk'), ref('Error')] },
              },
            }),
            '400': errorResponse(
              'Invalid JSON (invalid_json), a schema violation (invalid_request, param names the field), a ' +
                'prompt blocked by the content filter (content_filter) or another upstream 400.',
            ),
            '404': errorResponse('The deployment is not allowed or unknown (model_not_found).'),
            '413': errorResponse('The body is larger than the configured limit (request_too_large).'),
            '415': errorResponse('The body is not declared as application/json (unsupported_media_type).'),
            ...callerErrors,
            ...upstreamErrors,
          },
        },
      },
      '/models': {
        get: {
          operationId: 'listModels',
          summary: 'The deployments this API allows, with model, version and retirement facts.',
          responses: { '200': ok('The deployments.', json(ref('ModelList'))), ...modelsResponses },
        },
      },
      '/models/{id}': {
        get: {
          operationId: 'retrieveModel',
          summary: 'One deployment.',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': ok('The deployment.', json(ref('ModelEntry'))),
            '404': errorResponse('No such deployment, or not allowed (model_not_found).'),
            ...modelsResponses,
          },
        },
      },
      '/catalog/models': {
        get: {
          operationId: 'listCatalogModels',
          summary: 'The models a region offers.',
          parameters: [
            query('location', 'An Azure region; defaults to the app’s region.', {
              type: 'string',
              pattern: '^[a-z][a-z0-9]{1,39}$',
            }),
            query('capability', 'Comma-separated capabilities every listed model must have.', {
              type: 'string',
            }),
          ],
          responses: {
            '200': ok('The region’s models.', json(ref('ModelList'))),
            '400': errorResponse('An invalid location or capability (invalid_request).'),
            ...modelsResponses,
          },
        },
      },
      '/health': {
        get: {
          operationId: 'health',
          summary: 'Liveness; with deep=true, also a token and a one-token chat call.',
          security: [{}, ...(secured ? [{ entraId: [] }] : [])],
          parameters: [
            query('deep', 'true to check Azure access too (needs a caller token).', { enum: ['true'] }),
          ],
          responses: {
            '200': ok('Healthy.', json(ref('Health'))),
            '401': callerErrors['401'],
            '429': callerErrors['429'],
            '500': callerErrors['500'],
            '503': errorResponse('Not ready, with what to do (for example role_assignment_pending).'),
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openApiDocument',
          summary: 'This document.',
          security: [],
          responses: {
            '200': ok('The OpenAPI 3.1 document.', json({ type: 'object' })),
            '500': callerErrors['500'],
          },
        },
      },
    },
    components: {
      schemas: componentSchemas(config),
      securitySchemes: {
        entraId: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A Microsoft Entra ID access token whose audience is this API.',
        },
      },
    },
  };
}
