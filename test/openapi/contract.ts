import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import type { OpenApiDocument } from '../../src/lib/openapi';

/**
 * Checks real responses against the OpenAPI document: the status must be documented for the operation,
 * the content type must be one the document lists, the body must validate against its schema, and every
 * header the document marks required must be present and valid. Records which statuses each operation was
 * seen answering, so a test can insist every endpoint was exercised both ways.
 */

const DOCUMENT_ID = 'openapi.json';
const OPENAPI_KEYWORDS = ['openapi', 'info', 'servers', 'security', 'paths', 'components', 'x-event-data'];

export interface ObservedResponse {
  status: number;
  headers: Record<string, string> | Headers;
  body: string;
}

type Json = Record<string, unknown>;

/** A JSON pointer from unescaped reference tokens. */
const pointer = (...parts: string[]): string =>
  parts.map((part) => `/${part.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function headerValue(headers: ObservedResponse['headers'], name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** The data of each server-sent event, `[DONE]` excluded. */
export function sseEvents(body: string): unknown[] {
  return body
    .split(/\r?\n\r?\n/)
    .map((event) =>
      event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n'),
    )
    .filter((data) => data !== '' && data !== '[DONE]')
    .map((data) => JSON.parse(data) as unknown);
}

export class Contract {
  readonly ajv: Ajv2020;
  readonly seen = new Map<string, Set<number>>();
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    this.ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
    // NOTE: the document's own keywords are not JSON Schema; declaring them keeps strict mode for the schemas.
    this.ajv.addVocabulary(OPENAPI_KEYWORDS);
    this.ajv.addFormat(
      'date-time',
      (value: string) => !Number.isNaN(Date.parse(value)) && value.includes('T'),
    );
    this.ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    this.ajv.addSchema(document, DOCUMENT_ID);
  }

  /** The compiled schema at a JSON pointer into the document (fails on an unresolvable pointer). */
  schemaAt(path: string): ValidateFunction {
    let validate = this.validators.get(path);
    if (!validate) {
      validate = this.ajv.getSchema(`${DOCUMENT_ID}#${path}`);
      if (!validate) throw new Error(`no schema at ${path}`);
      this.validators.set(path, validate);
    }
    return validate;
  }

  component(name: string): ValidateFunction {
    return this.schemaAt(`/components/schemas/${name}`);
  }

  /** Problems with a value against a compiled schema, as readable lines (empty when it is valid). */
  problems(validate: ValidateFunction, value: unknown, where = ''): string[] {
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (error) =>
        `${where}${error.instancePath || '/'} ${error.message ?? 'is invalid'} (${error.schemaPath})`,
    );
  }

  operation(path: string, method: string): Json {
    const item = (this.document.paths as Record<string, Json | undefined>)[path];
    const operation = item?.[method];
    if (!isObject(operation)) throw new Error(`the document has no ${method.toUpperCase()} ${path}`);
    return operation;
  }

  /** Everything wrong with a response of `method path`; an empty list means it matches the document. */
  check(path: string, method: 'get' | 'post', response: ObservedResponse): string[] {
    const operation = this.operation(path, method);
    const key = `${method.toUpperCase()} ${path}`;
    const statuses = this.seen.get(key) ?? new Set<number>();
    statuses.add(response.status);
    this.seen.set(key, statuses);

    const responses = operation.responses as Record<string, Json | undefined>;
    const documented = responses[String(response.status)];
    if (!documented) return [`status ${response.status} is not documented for ${key}`];
    const base = pointer('paths', path, method, 'responses', String(response.status));
    const problems: string[] = [];

    for (const [name, spec] of Object.entries((documented.headers ?? {}) as Record<string, Json>)) {
      const value = headerValue(response.headers, name);
      if (value === undefined) {
        if (spec.required === true) problems.push(`required header ${name} is missing`);
        continue;
      }
      const schema = spec.schema as Json;
      const typed = schema.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
      problems.push(
        ...this.problems(this.schemaAt(base + pointer('headers', name, 'schema')), typed, `${name} `),
      );
    }

    const contentType = (headerValue(response.headers, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    const content = (documented.content ?? {}) as Record<string, Json>;
    if (!(contentType in content)) {
      problems.push(`content type "${contentType}" is not one of ${Object.keys(content).join(', ')}`);
      return problems;
    }
    if (contentType === 'text/event-stream') {
      const eventSchema = this.schemaAt(base + pointer('content', contentType, 'x-event-data'));
      const events = sseEvents(response.body);
      if (events.length === 0) problems.push('the stream has no events');
      events.forEach((event, index) =>
        problems.push(...this.problems(eventSchema, event, `event ${index} `)),
      );
      return problems;
    }
    let body: unknown;
    try {
      body = JSON.parse(response.body);
    } catch {
      return [...problems, 'the body is not JSON'];
    }
    problems.push(...this.problems(this.schemaAt(base + pointer('content', contentType, 'schema')), body));
    return problems;
  }
}
