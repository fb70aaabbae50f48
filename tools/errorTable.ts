import { readFileSync, writeFileSync } from 'node:fs';
import { renderErrorTable } from '../src/lib/errorCodes';

/** Rewrites the README's error table from src/lib/errorCodes.ts: `npm run docs:errors`. */

export const START = '<!-- error-table:start (npm run docs:errors) -->';
export const END = '<!-- error-table:end -->';

export function withErrorTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} section.`);
  return `${readme.slice(0, start + START.length)}\n${renderErrorTable()}\n${readme.slice(end)}`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  writeFileSync('README.md', withErrorTable(readFileSync('README.md', 'utf8')));
}
