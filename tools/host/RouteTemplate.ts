type Constraint = (value: string) => boolean;

interface ParameterPart {
  kind: 'parameter';
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue: string | undefined;
  constraints: Constraint[];
}

interface LiteralPart {
  kind: 'literal';
  text: string;
}

type Part = ParameterPart | LiteralPart;

interface Segment {
  parts: Part[];
}

const integerPattern = /^-?\d+$/;
const numberPattern = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const guidPattern = /^[{(]?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}[)}]?$/i;

function numericArgs(args: string | undefined, count: number, constraint: string): number[] {
  const values = (args ?? '').split(',').map((arg) => Number(arg.trim()));
  if (values.length !== count || values.some((value) => !Number.isFinite(value))) {
    throw new Error(`The route constraint '${constraint}' needs ${count} numeric argument(s).`);
  }
  return values;
}

function firstArg(values: number[]): number {
  const [value] = values;
  if (value === undefined) {
    throw new Error('A route constraint argument is missing.');
  }
  return value;
}

function toConstraint(text: string): Constraint {
  const match = /^([a-z]+)(?:\((.*)\))?$/is.exec(text);
  const name = match?.[1]?.toLowerCase();
  const args = match?.[2];
  switch (name) {
    case 'int':
    case 'long':
      return (value) => integerPattern.test(value);
    case 'float':
    case 'double':
    case 'decimal':
      return (value) => numberPattern.test(value);
    case 'bool':
      return (value) => /^(true|false)$/i.test(value);
    case 'alpha':
      return (value) => /^[a-z]+$/i.test(value);
    case 'guid':
      return (value) => guidPattern.test(value);
    case 'datetime':
      return (value) => !Number.isNaN(Date.parse(value));
    case 'minlength': {
      const min = firstArg(numericArgs(args, 1, text));
      return (value) => value.length >= min;
    }
    case 'maxlength': {
      const max = firstArg(numericArgs(args, 1, text));
      return (value) => value.length <= max;
    }
    case 'length': {
      const bounds = (args ?? '').includes(',') ? numericArgs(args, 2, text) : numericArgs(args, 1, text);
      const min = firstArg(bounds);
      const max = bounds[1] ?? min;
      return (value) => value.length >= min && value.length <= max;
    }
    case 'min': {
      const min = firstArg(numericArgs(args, 1, text));
      return (value) => integerPattern.test(value) && Number(value) >= min;
    }
    case 'max': {
      const max = firstArg(numericArgs(args, 1, text));
      return (value) => integerPattern.test(value) && Number(value) <= max;
    }
    case 'range': {
      const [min = 0, max = 0] = numericArgs(args, 2, text);
      return (value) => integerPattern.test(value) && Number(value) >= min && Number(value) <= max;
    }
    case 'regex': {
      const pattern = new RegExp(args ?? '', 'i');
      return (value) => pattern.test(value);
    }
    default:
      throw new Error(`The constraint reference '${text}' could not be resolved.`);
  }
}

function parseParameter(body: string): ParameterPart {
  let text = body;
  let catchAll = false;
  if (text.startsWith('**')) {
    catchAll = true;
    text = text.slice(2);
  } else if (text.startsWith('*')) {
    catchAll = true;
    text = text.slice(1);
  }
  let defaultValue: string | undefined;
  const equals = text.indexOf('=');
  if (equals >= 0) {
    defaultValue = text.slice(equals + 1);
    text = text.slice(0, equals);
  }
  let optional = false;
  if (text.endsWith('?')) {
    optional = true;
    text = text.slice(0, -1);
  }
  const [name = '', ...constraintTexts] = splitConstraints(text);
  if (!/^[^{}/?*=:]+$/.test(name)) {
    throw new Error(`The route parameter name '${name}' is invalid.`);
  }
  return {
    kind: 'parameter',
    name,
    optional,
    catchAll,
    defaultValue,
    constraints: constraintTexts.map(toConstraint),
  };
}

/** Splits `name:c1:c2(args)` on colons that are not inside a constraint's parentheses. */
function splitConstraints(text: string): string[] {
  const pieces: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') {
      depth += 1;
    } else if (char === ')') {
      depth -= 1;
    }
    if (char === ':' && depth === 0) {
      pieces.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  pieces.push(current);
  return pieces;
}

function parseSegment(text: string, template: string): Segment {
  const parts: Part[] = [];
  let literal = '';
  let index = 0;
  while (index < text.length) {
    const char = text.charAt(index);
    if (char === '{' && text.charAt(index + 1) === '{') {
      literal += '{';
      index += 2;
    } else if (char === '}' && text.charAt(index + 1) === '}') {
      literal += '}';
      index += 2;
    } else if (char === '{') {
      let end = index + 1;
      let body = '';
      while (end < text.length) {
        if (text.charAt(end) === '}' && text.charAt(end + 1) === '}') {
          body += '}';
          end += 2;
        } else if (text.charAt(end) === '}') {
          break;
        } else {
          body += text.charAt(end);
          end += 1;
        }
      }
      if (end >= text.length) {
        throw new Error(`The route template '${template}' has an unclosed '{'.`);
      }
      if (literal) {
        parts.push({ kind: 'literal', text: literal });
        literal = '';
      }
      parts.push(parseParameter(body));
      index = end + 1;
    } else {
      literal += char;
      index += 1;
    }
  }
  if (literal) {
    parts.push({ kind: 'literal', text: literal });
  }
  return { parts };
}

function decodeSegment(segment: string): string {
  try {
    // NOTE: an encoded slash stays encoded, so it cannot split a value across segments.
    return decodeURIComponent(segment.replace(/%2F/gi, '%252F'));
  } catch {
    return segment;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * An ASP.NET Core route template as the Functions host reads it: literal segments, `{name}`,
 * `{name?}`, `{name=default}`, `{*rest}` and constraints such as `{id:int}` or `{name:alpha}`.
 * Literals match case-insensitively; values are percent-decoded.
 */
export class RouteTemplate {
  readonly template: string;
  #segments: Segment[];

  constructor(template: string) {
    this.template = template;
    const trimmed = template.replace(/^~?\/+/, '').replace(/\/+$/, '');
    this.#segments = trimmed === '' ? [] : trimmed.split('/').map((text) => parseSegment(text, template));
    this.#validate();
  }

  /** Route values if `path` (the part after the route prefix) matches. */
  match(path: string): Record<string, string> | undefined {
    const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
    const rawSegments = trimmed === '' ? [] : trimmed.split('/');
    const values: Record<string, string> = {};
    for (const [index, segment] of this.#segments.entries()) {
      const single = segment.parts.length === 1 ? segment.parts[0] : undefined;
      if (single?.kind === 'parameter' && single.catchAll) {
        const rest = rawSegments.slice(index).map(decodeSegment).join('/');
        if (rest === '' && single.defaultValue === undefined) {
          return values;
        }
        const value = rest === '' ? (single.defaultValue ?? '') : rest;
        if (!single.constraints.every((check) => check(value))) {
          return undefined;
        }
        values[single.name] = value;
        return values;
      }
      const raw = rawSegments[index];
      if (raw === undefined || raw === '') {
        if (single?.kind === 'parameter' && (single.optional || single.defaultValue !== undefined)) {
          if (single.defaultValue !== undefined) {
            values[single.name] = single.defaultValue;
          }
          continue;
        }
        return undefined;
      }
      if (!this.#matchSegment(segment, raw, values)) {
        return undefined;
      }
    }
    return rawSegments.length <= this.#segments.length ? values : undefined;
  }

  #matchSegment(segment: Segment, raw: string, values: Record<string, string>): boolean {
    const pattern = segment.parts
      .map((part) => (part.kind === 'literal' ? escapeRegExp(part.text) : '(.+?)'))
      .join('');
    const decoded = decodeSegment(raw);
    const match = new RegExp(`^${pattern}$`, 'is').exec(decoded);
    if (!match) {
      return false;
    }
    let group = 1;
    for (const part of segment.parts) {
      if (part.kind === 'parameter') {
        const value = match[group] ?? '';
        group += 1;
        if (!part.constraints.every((check) => check(value))) {
          return false;
        }
        values[part.name] = value;
      }
    }
    return true;
  }

  #validate(): void {
    const names = new Set<string>();
    let sawOptional = false;
    for (const [index, segment] of this.#segments.entries()) {
      const parameters = segment.parts.filter((part): part is ParameterPart => part.kind === 'parameter');
      for (const parameter of parameters) {
        const key = parameter.name.toLowerCase();
        if (names.has(key)) {
          throw new Error(
            `The route parameter name '${parameter.name}' appears more than once in '${this.template}'.`,
          );
        }
        names.add(key);
        if (parameter.catchAll && (index !== this.#segments.length - 1 || segment.parts.length > 1)) {
          throw new Error(`A catch-all parameter can only appear as the last segment of '${this.template}'.`);
        }
        if ((parameter.optional || parameter.defaultValue !== undefined) && segment.parts.length > 1) {
          throw new Error(`An optional parameter must be alone in its segment in '${this.template}'.`);
        }
      }
      const single = segment.parts.length === 1 ? segment.parts[0] : undefined;
      const optionalHere =
        single?.kind === 'parameter' &&
        (single.optional || single.defaultValue !== undefined || single.catchAll);
      if (sawOptional && !optionalHere) {
        throw new Error(
          `An optional parameter can only be followed by other optional segments in '${this.template}'.`,
        );
      }
      sawOptional ||= optionalHere;
    }
  }
}
