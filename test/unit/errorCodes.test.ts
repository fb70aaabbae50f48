import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { errorCodeNames, errorCodes } from '../../src/lib/errorCodes';
import { buildOpenApiDocument } from '../../src/lib/openapi';
import { withErrorTable } from '../../tools/errorTable';
import { baseEnv } from '../support/gatewayHarness';

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
  );

describe('the one table of error codes', () => {
  it('is what the README shows (regenerate with npm run docs:errors)', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toBe(withErrorTable(readme));
  });

  it('has no row for a code the app never uses', () => {
    const source = sourceFiles('src')
      .filter((file) => !file.endsWith('errorCodes.ts'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    expect(errorCodeNames.filter((code) => !source.includes(`'${code}'`))).toEqual([]);
  });

  it('is the OpenAPI enum of error codes', () => {
    const document = buildOpenApiDocument(loadConfig(baseEnv)) as unknown as {
      components: { schemas: Record<string, unknown> };
    };
    const text = JSON.stringify(document.components.schemas);
    const enums = [...text.matchAll(/"enum":(\[[^\]]*\])/g)].map(
      (match) => JSON.parse(match[1] ?? '[]') as unknown,
    );
    expect(enums).toContainEqual(Object.keys(errorCodes));
  });
});
