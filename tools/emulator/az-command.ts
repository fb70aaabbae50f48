import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  developerSubject,
  isKnownResource,
  unknownResourceMessage,
  type EmulatorContext,
} from './emulator-context';
import { isRecord, parseJson, readBody, sendJson, type RequestHandler } from './http-util';

/** Where the `az` script posts its arguments. */
export const AZ_PATH = '/az/invoke';

export interface AzResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const NOT_LOGGED_IN = "ERROR: Please run 'az login' to setup account.\n";
const DEFAULT_RESOURCE = 'https://management.core.windows.net/';
const valueOptions: Record<string, string> = {
  '--output': 'output',
  '-o': 'output',
  '--resource': 'resource',
  '--scope': 'scope',
  '--tenant': 'tenant',
  '-t': 'tenant',
  '--subscription': 'subscription',
  '-s': 'subscription',
  '--resource-type': 'resourceType',
  '--query': 'query',
};
const flagOptions = new Set(['--only-show-errors', '--verbose', '--debug']);

function failure(message: string): AzResult {
  return { exitCode: 1, stdout: '', stderr: `ERROR: ${message}\n` };
}

type ParsedArgs =
  { ok: true; command: string[]; options: Map<string, string> } | { ok: false; result: AzResult };

function parseArgs(args: readonly string[]): ParsedArgs {
  const command: string[] = [];
  const options = new Map<string, string>();
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (!arg.startsWith('-')) {
      command.push(arg);
      continue;
    }
    if (flagOptions.has(arg)) continue;
    const [flag = '', inlineValue] = arg.split(/=(.*)/s, 2);
    const name = valueOptions[flag];
    if (name === undefined) return { ok: false, result: failure(`unrecognized arguments: ${arg}`) };
    const value = inlineValue ?? args[index + 1];
    if (inlineValue === undefined) index += 1;
    if (value === undefined) return { ok: false, result: failure(`argument ${flag}: expected one argument`) };
    options.set(name, value);
  }
  return { ok: true, command, options };
}

/** `YYYY-MM-DD HH:MM:SS.ffffff` in local time, the format of az's `expiresOn`. */
export function azLocalTime(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  const pad = (value: number, width = 2): string => String(value).padStart(width, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds() * 1000, 6)}`
  );
}

/** What the real `az` would print and return for these arguments, given the emulator's login state. */
export async function runAzCommand(ctx: EmulatorContext, args: readonly string[]): Promise<AzResult> {
  ctx.stats.azCalls += 1;
  const parsed = parseArgs(args);
  if (!parsed.ok) return parsed.result;
  const { command, options } = parsed;
  if (command.join(' ') !== 'account get-access-token') {
    return failure(
      `'${command.join(' ') || args.join(' ')}' is misspelled or not recognized by the emulated az, which only knows 'account get-access-token'.`,
    );
  }
  if (!ctx.az.loggedIn) return { exitCode: 1, stdout: '', stderr: NOT_LOGGED_IN };
  const output = options.get('output') ?? 'json';
  if (output !== 'json') return failure(`the emulated az prints --output json only, not '${output}'.`);
  const tenant = options.get('tenant');
  if (tenant !== undefined && tenant.toLowerCase() !== ctx.ids.tenantId) {
    return failure(
      `Tenant '${tenant}' not found. Check the spelling and casing and try again. You are logged in to tenant '${ctx.ids.tenantId}'.`,
    );
  }
  const subscription = options.get('subscription');
  if (subscription !== undefined && subscription.toLowerCase() !== ctx.ids.subscriptionId) {
    return failure(`Subscription '${subscription}' not found. Check the spelling and casing and try again.`);
  }
  const scope = options.get('scope');
  if (scope !== undefined && options.has('resource'))
    return failure('usage error: --resource/--scope are mutually exclusive');
  const resource = scope?.replace(/\/\.default$/, '') ?? options.get('resource') ?? DEFAULT_RESOURCE;
  if (!isKnownResource(resource)) return failure(unknownResourceMessage(resource, ctx.ids.tenantId));

  const { token, expiresOn } = await ctx.serviceTokens.issue(developerSubject(ctx.principals), resource);
  const answer = {
    accessToken: token,
    expiresOn: azLocalTime(expiresOn),
    expires_on: expiresOn,
    subscription: ctx.ids.subscriptionId,
    tenant: ctx.ids.tenantId,
    tokenType: 'Bearer',
  };
  return { exitCode: 0, stdout: `${JSON.stringify(answer, null, 2)}\n`, stderr: '' };
}

export function createAzEndpoint(ctx: EmulatorContext): RequestHandler {
  return async (req, res) => {
    const parsed = req.method === 'POST' ? parseJson(await readBody(req)) : { ok: false as const };
    const args = parsed.ok && isRecord(parsed.value) ? parsed.value.args : undefined;
    if (!Array.isArray(args) || !args.every((arg): arg is string => typeof arg === 'string')) {
      sendJson(res, 400, { error: { code: 'BadRequest', message: 'POST {"args": string[]}' } });
      return;
    }
    sendJson(res, 200, await runAzCommand(ctx, args));
  };
}

/**
 * The `az` executable: a CommonJS Node script with no dependencies, so it runs under whichever Node is first
 * on PATH (20 or 22), from any cwd and without a shell. It only forwards its arguments; the emulator answers.
 */
function azScript(invokeUrl: string): string {
  return `#!/usr/bin/env node
'use strict';
// Emulated Azure CLI, written by tools/emulator/az-command.ts. The emulator decides every answer.
const http = require('node:http');
const target = ${JSON.stringify(invokeUrl)};
const body = JSON.stringify({ args: process.argv.slice(2) });
const fail = (message) => {
  process.stderr.write('ERROR: ' + message + '\\n');
  process.exitCode = 1;
};
const request = http.request(
  target,
  { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 15000 },
  (response) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk) => { text += chunk; });
    response.on('end', () => {
      let result;
      try { result = JSON.parse(text); } catch { result = undefined; }
      if (!result || typeof result.exitCode !== 'number') return fail('unexpected answer from the Azure emulator: ' + text);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exitCode = result.exitCode;
    });
  },
);
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (error) => fail('cannot reach the Azure emulator at ' + target + ': ' + error.message));
request.end(body);
`;
}

/** Writes `az` into binDir and returns its path. */
export async function writeAzCommand(binDir: string, baseUrl: string): Promise<string> {
  await mkdir(binDir, { recursive: true });
  // NOTE: pins CommonJS for the extensionless script even if a parent folder's package.json says "module".
  await writeFile(path.join(binDir, 'package.json'), '{ "type": "commonjs" }\n');
  const scriptPath = path.join(binDir, 'az');
  await writeFile(scriptPath, azScript(`${baseUrl}${AZ_PATH}`));
  await chmod(scriptPath, 0o755);
  return scriptPath;
}
