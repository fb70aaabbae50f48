import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../tools/bicep.mjs';

// The deployment guide is run by people who copy its commands. Every az, azd and func command in it must
// be one of the commands below, with flags that command has, and every deployment output it reads must be
// an output of infra/main.bicep.

/** Flags every az command takes (az's global arguments). */
const AZ_GLOBAL = ['--query', '--output', '-o', '--only-show-errors', '--debug', '--verbose', '--help', '-h'];

/**
 * Commands the guides may use and their flags, from each tool's reference: the Azure CLI's argument
 * definitions (azure-cli src/azure-cli/azure/cli/command_modules/*\/_params.py, such as role/_params.py for
 * `az ad app`), the Azure Developer CLI and Core Tools command references. `az ad app update` also takes the
 * generic update arguments (--set, --add, --remove, --force-string).
 */
const COMMANDS: Record<string, readonly string[]> = {
  'az login': [
    '--tenant',
    '-t',
    '--use-device-code',
    '--identity',
    '--service-principal',
    '--username',
    '-u',
  ],
  'az account set': ['--subscription', '-s', '--name', '-n'],
  'az account show': ['--subscription', '-s'],
  'az account get-access-token': ['--scope', '--resource', '--tenant', '-t', '--subscription', '-s'],
  'az bicep upgrade': [],
  'az bicep install': ['--version', '-v'],
  'az group create': ['--name', '-n', '--resource-group', '-g', '--location', '-l', '--tags'],
  'az deployment group create': [
    '--name',
    '-n',
    '--resource-group',
    '-g',
    '--template-file',
    '-f',
    '--parameters',
    '-p',
    '--what-if',
    '--confirm-with-what-if',
    '-c',
  ],
  'az deployment group show': ['--name', '-n', '--resource-group', '-g'],
  'az ad app create': [
    '--display-name',
    '--sign-in-audience',
    '--identifier-uris',
    '--web-redirect-uris',
    '--web-home-page-url',
    '--public-client-redirect-uris',
    '--enable-id-token-issuance',
    '--enable-access-token-issuance',
    '--is-fallback-public-client',
    '--app-roles',
    '--optional-claims',
    '--required-resource-accesses',
  ],
  'az ad app update': [
    '--id',
    '--display-name',
    '--sign-in-audience',
    '--identifier-uris',
    '--web-redirect-uris',
    '--web-home-page-url',
    '--public-client-redirect-uris',
    '--enable-id-token-issuance',
    '--enable-access-token-issuance',
    '--is-fallback-public-client',
    '--app-roles',
    '--optional-claims',
    '--required-resource-accesses',
    '--set',
    '--add',
    '--remove',
    '--force-string',
  ],
  'az ad sp create': ['--id'],
  'az ad signed-in-user show': [],
  'az role assignment list': [
    '--all',
    '--assignee',
    '--role',
    '--scope',
    '--resource-group',
    '-g',
    '--include-inherited',
  ],
  'az role assignment delete': [
    '--assignee',
    '--role',
    '--scope',
    '--ids',
    '--resource-group',
    '-g',
    '--yes',
    '-y',
  ],
  'az functionapp list-flexconsumption-locations': ['--zone-redundant', '--show-details'],
  'az cognitiveservices model list': ['--location', '-l'],
  'az cognitiveservices usage list': ['--location', '-l'],
  'az cognitiveservices account show': ['--name', '-n', '--resource-group', '-g'],
  'az cognitiveservices account list-deleted': [],
  'az cognitiveservices account purge': ['--name', '-n', '--resource-group', '-g', '--location', '-l'],
  'azd auth login': ['--tenant-id', '--use-device-code', '--client-id', '--client-certificate'],
  'azd env new': ['--location', '-l', '--subscription'],
  'azd env set': [],
  'azd env get-values': [],
  'azd up': ['--environment', '-e'],
  'azd provision': ['--environment', '-e'],
  'azd down': ['--force', '--purge', '--environment', '-e'],
  'func azure functionapp publish': [
    '--typescript',
    '--javascript',
    '--build',
    '-b',
    '--no-build',
    '--force',
    '--slot',
  ],
  'func start': ['--port', '-p', '--cors', '--verbose'],
  func: ['--version'],
};

/** Variables the guide may read without setting them: none are secrets or outputs. */
const AMBIENT_VARIABLES = new Set<string>();

interface Command {
  words: string[];
  source: string;
}

/**
 * Splits shell text into simple commands the way sh does for this purpose: quotes group words, and `|`,
 * `&&`, `;`, newlines and `$( … )` (also inside double quotes) separate commands.
 */
function shellCommands(text: string): Command[] {
  const commands: Command[] = [];
  const stack: Command[][] = [];
  let current: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  const quoteStack: ('"' | undefined)[] = [];
  const endWord = (): void => {
    if (word !== undefined) current.push(word);
    word = undefined;
  };
  const endCommand = (): void => {
    endWord();
    if (current.length > 0) commands.push({ words: current, source: current.join(' ') });
    current = [];
  };
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index] ?? '';
    const next = text[index + 1] ?? '';
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word = (word ?? '') + char;
      continue;
    }
    if (char === '$' && next === '(') {
      if (word !== '') endWord();
      word = undefined;
      stack.push([]);
      quoteStack.push(quote);
      quote = undefined;
      // NOTE: the substitution's own command starts here; the outer one keeps its words so far.
      const outer = current;
      current = [];
      stack[stack.length - 1]?.push({ words: outer, source: '' });
      index += 1;
      continue;
    }
    if (quote === '"') {
      if (char === '\\' && next !== '') {
        word = (word ?? '') + next;
        index += 1;
      } else if (char === '"') quote = undefined;
      else word = (word ?? '') + char;
      continue;
    }
    if (char === ')' && stack.length > 0) {
      endCommand();
      const saved = stack.pop()?.[0];
      current = saved?.words ?? [];
      quote = quoteStack.pop();
      word = '$SUBSTITUTION';
      continue;
    }
    if (char === '\\' && next === '\n') {
      index += 1;
      continue;
    }
    if (char === '#' && word === undefined) {
      while (index < text.length && text[index] !== '\n') index += 1;
      endCommand();
      continue;
    }
    if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
      continue;
    }
    if (char === '\n' || char === ';' || char === '|' || (char === '&' && next === '&')) {
      if (char === '&' || (char === '|' && next === '|')) index += 1;
      endCommand();
      continue;
    }
    if (char === ' ' || char === '\t') {
      endWord();
      continue;
    }
    word = (word ?? '') + char;
  }
  endCommand();
  return commands;
}

/** The fenced bash blocks of a Markdown file. */
function bashBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^[ \t]*```(?:bash|sh)\n([\s\S]*?)^[ \t]*```/gm)].map(
    (match) => match[1] ?? '',
  );
}

/** The checked command a command line starts with (the longest known prefix), if it is an az/azd/func one. */
function knownCommand(words: readonly string[]): { name: string; rest: string[] } | undefined {
  const start = words.findIndex((item) => item === 'az' || item === 'azd' || item === 'func');
  // NOTE: only commands that are run: a leading `az`, or one after `eval`/`time`/an assignment prefix.
  if (
    start === -1 ||
    words.slice(0, start).some((item) => !/^([A-Z_][A-Z0-9_]*=.*|eval|time|until|if|export)$/.test(item))
  )
    return undefined;
  const tool = words.slice(start);
  for (let length = tool.length; length > 0; length -= 1) {
    const name = tool.slice(0, length).join(' ');
    if (name in COMMANDS) return { name, rest: tool.slice(length) };
  }
  return { name: tool.slice(0, 4).join(' '), rest: [] };
}

let guide: string;
let readme: string;
let outputs: Set<string>;

beforeAll(async () => {
  [guide, readme] = await Promise.all([
    readFile(join(repoRoot, 'docs', 'deployment.md'), 'utf8'),
    readFile(join(repoRoot, 'README.md'), 'utf8'),
  ]);
  const bicep = await readFile(join(repoRoot, 'infra', 'main.bicep'), 'utf8');
  outputs = new Set([...bicep.matchAll(/^output\s+([A-Za-z0-9_]+)\s/gm)].map((match) => match[1] ?? ''));
});

describe('the shell splitter this test relies on', () => {
  it('finds commands inside substitutions, pipes and continued lines, and keeps quoted text whole', () => {
    const commands = shellCommands(
      [
        'export CALLER_TOKEN=$(az account get-access-token --scope "$X/access_as_user" --query accessToken -o tsv)',
        'eval "$(az deployment group show -g rg -n gateway --query properties.outputs -o json \\',
        '  | node tools/deployment-outputs.mjs)"',
        'az ad app update --id "$A" --set api="{',
        '  \\"x\\": 1 --not-a-flag }"  # a comment --nor-this',
      ].join('\n'),
    ).map((command) => command.words);
    expect(commands).toContainEqual([
      'az',
      'account',
      'get-access-token',
      '--scope',
      '$X/access_as_user',
      '--query',
      'accessToken',
      '-o',
      'tsv',
    ]);
    expect(commands).toContainEqual(['node', 'tools/deployment-outputs.mjs']);
    expect(commands).toContainEqual([
      'az',
      'ad',
      'app',
      'update',
      '--id',
      '$A',
      '--set',
      'api={\n  "x": 1 --not-a-flag }',
    ]);
    expect(commands.flat()).not.toContain('--nor-this');
  });
});

describe.each([
  ['docs/deployment.md', () => guide],
  ['README.md', () => readme],
])('the az, azd and func commands in %s', (_file, text) => {
  it('are known commands with flags those commands have', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const block of bashBlocks(text())) {
      for (const { words } of shellCommands(block)) {
        const command = knownCommand(words);
        if (!command) continue;
        checked += 1;
        const allowed = COMMANDS[command.name];
        if (!allowed) {
          problems.push(`unknown command: ${command.name}`);
          continue;
        }
        const global = command.name.startsWith('az ') ? AZ_GLOBAL : [];
        for (const flag of command.rest
          .filter((item) => item.startsWith('-'))
          .map((item) => item.split('=')[0] ?? '')) {
          if (!allowed.includes(flag) && !global.includes(flag))
            problems.push(`${command.name}: no flag ${flag}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(3);
  });
});

describe('docs/deployment.md and the deployment outputs', () => {
  it('reads only variables it sets itself or that main.bicep outputs', () => {
    const blocks = bashBlocks(guide).join('\n');
    const assigned = new Set(
      [...blocks.matchAll(/(?:^|[\s;(])(?:export\s+)?([A-Z_][A-Z0-9_]*)=/gm)].map((match) => match[1] ?? ''),
    );
    const read = new Set([...blocks.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)].map((match) => match[1] ?? ''));
    const unknown = [...read].filter(
      (name) => !assigned.has(name) && !outputs.has(name) && !AMBIENT_VARIABLES.has(name),
    );
    expect(unknown).toEqual([]);
    // NOTE: these come from tools/deployment-outputs.mjs, so they must stay outputs under these names.
    for (const name of ['FUNCTION_APP_NAME', 'FUNCTION_APP_URL', 'AUTH_APP_ID_URI', 'APP_IDENTITY_CLIENT_ID'])
      expect(read, name).toContain(name);
  });

  it('lists as outputs only names main.bicep outputs', () => {
    const paragraph = /^Outputs: ([\s\S]*?)\n\n/m.exec(guide)?.[1] ?? '';
    const named = [...paragraph.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1] ?? '');
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((name) => !outputs.has(name) && name !== 'AZURE_CLIENT_ID')).toEqual([]);
  });

  it('never tells anyone to create the role assignment the template makes under its own name', () => {
    for (const text of [guide, readme]) {
      const commands = bashBlocks(text).flatMap((block) => shellCommands(block));
      expect(commands.filter(({ words }) => words.join(' ').startsWith('az role assignment create'))).toEqual(
        [],
      );
    }
  });
});
