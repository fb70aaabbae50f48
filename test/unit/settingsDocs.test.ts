import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, settingNames } from '../../src/lib/config';

const readme = readFileSync('README.md', 'utf8');
const localSettings = JSON.parse(readFileSync('local.settings.json', 'utf8')) as {
  Values: Record<string, string>;
};
const platformSettings = new Set(['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage']);

describe('setting names stay the same everywhere', () => {
  it('documents every setting in the README table', () => {
    const documented = [...readme.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]);
    expect(documented.sort()).toEqual([...settingNames].sort());
  });

  it('uses only known setting names in local.settings.json, and they validate', () => {
    const names = Object.keys(localSettings.Values).filter((name) => !platformSettings.has(name));
    expect(names.filter((name) => !(settingNames as string[]).includes(name))).toEqual([]);
    expect(() => loadConfig(localSettings.Values)).not.toThrow();
  });
});
