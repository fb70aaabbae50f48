#!/usr/bin/env node
// Waits until a deployed gateway answers GET /api/health?deep=true with 200: the app runs, its identity
// gets a token and Azure OpenAI accepts it, which right after a deployment means the role assignment has
// propagated (minutes, sometimes more).
//
//   CALLER_TOKEN=$(az account get-access-token --scope "$AUTH_APP_ID_URI/access_as_user" --query accessToken -o tsv) \
//     node tools/wait-for-health.mjs --url https://<app>.azurewebsites.net
//
// Exit codes: 0 healthy, 1 time limit reached, 2 bad usage, 3 the gateway rejected the caller token
// (waiting will not help).
import { realpath } from 'node:fs/promises';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL, fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const DEFAULT_TIMEOUT_SECONDS = 20 * 60;
export const DEFAULT_INTERVAL_SECONDS = 15;
export const DEFAULT_TOKEN_ENV = 'CALLER_TOKEN';
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The health URL for an app base URL, with or without a trailing slash or /api.
 * @param {string} baseUrl
 */
export function healthUrl(baseUrl) {
  const url = new URL(baseUrl);
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
  url.pathname = `${path}/api/health`;
  url.search = '?deep=true';
  url.hash = '';
  return url.href;
}

/**
 * A one-line summary of a response body: the error envelope's code and message when there is one.
 * @param {string} text
 */
export function describeBody(text) {
  try {
    const body = /** @type {unknown} */ (JSON.parse(text));
    if (body && typeof body === 'object' && 'error' in body && body.error && typeof body.error === 'object') {
      const { code, message } = /** @type {{ code?: unknown, message?: unknown }} */ (body.error);
      return [code, message]
        .filter((part) => typeof part === 'string' && part.length > 0)
        .join(': ')
        .slice(0, 300);
    }
  } catch {
    // Not JSON: the platform's own pages (cold start, 404 before the functions are indexed).
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 120);
}

/**
 * @typedef {{ ok: true, attempts: number, elapsedMs: number, body: string }
 *   | { ok: false, reason: 'timeout' | 'caller_auth', attempts: number, elapsedMs: number, last: string }} WaitResult
 * @typedef {{
 *   url: string,
 *   token?: string | undefined,
 *   timeoutMs?: number,
 *   intervalMs?: number,
 *   requestTimeoutMs?: number,
 *   fetch?: typeof fetch,
 *   log?: (line: string) => void,
 * }} WaitOptions
 */

/**
 * Polls the deep health endpoint until it answers 200, the time limit passes, or the gateway says the
 * caller token itself is wrong.
 * @param {WaitOptions} options
 * @returns {Promise<WaitResult>}
 */
export async function waitForHealth(options) {
  const target = healthUrl(options.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_SECONDS * 1000;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_SECONDS * 1000;
  const requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const doFetch = options.fetch ?? globalThis.fetch;
  const log = options.log ?? (() => {});
  const headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const started = Date.now();
  let attempts = 0;
  /** @type {string} */
  let last;

  log(`Waiting up to ${Math.round(timeoutMs / 1000)} s for ${target} to answer 200...`);
  for (;;) {
    attempts += 1;
    const remaining = timeoutMs - (Date.now() - started);
    try {
      const response = await doFetch(target, {
        headers,
        signal: globalThis.AbortSignal.timeout(Math.max(1, Math.min(requestTimeoutMs, remaining))),
      });
      const text = await response.text();
      const elapsedMs = Date.now() - started;
      if (response.status === 200) {
        log(`[${seconds(elapsedMs)}] 200 healthy after ${attempts} attempt(s).`);
        return { ok: true, attempts, elapsedMs, body: text };
      }
      last = `${response.status} ${describeBody(text)}`.trim();
      log(`[${seconds(elapsedMs)}] ${last}`);
      // NOTE: a 401/403 with a Bearer challenge comes from the gateway's own caller check: the token is
      // missing, for another audience or tenant, or lacks the scope. That does not fix itself.
      const challenge = response.headers.get('www-authenticate') ?? '';
      if ((response.status === 401 || response.status === 403) && /^bearer/i.test(challenge)) {
        return { ok: false, reason: 'caller_auth', attempts, elapsedMs, last };
      }
    } catch (error) {
      last = describeError(error);
      log(`[${seconds(Date.now() - started)}] no answer (${last})`);
    }
    const elapsedMs = Date.now() - started;
    if (elapsedMs + intervalMs > timeoutMs) {
      return { ok: false, reason: 'timeout', attempts, elapsedMs, last };
    }
    await sleep(intervalMs);
  }
}

/**
 * fetch reports "fetch failed" and hides the reason (DNS, refused, TLS) in `cause`.
 * @param {unknown} error
 */
function describeError(error) {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = cause && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  return `${error.name}: ${error.message}${code ? ` (${code})` : cause ? ` (${cause.message})` : ''}`;
}

/** @param {number} ms */
function seconds(ms) {
  return `${Math.round(ms / 1000)
    .toString()
    .padStart(4)} s`;
}

const usage = `Usage: node tools/wait-for-health.mjs [--url URL] [--timeout SECONDS] [--interval SECONDS] [--token-env NAME]

  --url        base URL of the function app (default: $FUNCTION_APP_URL)
  --timeout    give up after this many seconds (default: ${DEFAULT_TIMEOUT_SECONDS})
  --interval   seconds between attempts (default: ${DEFAULT_INTERVAL_SECONDS})
  --token-env  environment variable holding the caller's bearer token (default: ${DEFAULT_TOKEN_ENV});
               unset or empty sends no token, which only an anonymous-mode gateway accepts`;

/**
 * @param {string[]} argv
 * @param {NodeJS.ProcessEnv} env
 * @param {(line: string) => void} log
 * @returns {Promise<number>} the exit code
 */
export async function cli(argv, env, log) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        timeout: { type: 'string' },
        interval: { type: 'string' },
        'token-env': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    log(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    log(usage);
    return 0;
  }
  const url = values.url ?? env.FUNCTION_APP_URL;
  const timeout = Number(values.timeout ?? DEFAULT_TIMEOUT_SECONDS);
  const interval = Number(values.interval ?? DEFAULT_INTERVAL_SECONDS);
  if (!url || !/^https?:\/\//.test(url)) {
    log(`A base URL is needed: pass --url or set FUNCTION_APP_URL (the deployment output).\n\n${usage}`);
    return 2;
  }
  if (!(timeout > 0) || !(interval > 0)) {
    log(`--timeout and --interval must be positive numbers of seconds.\n\n${usage}`);
    return 2;
  }
  const tokenEnv = values['token-env'] ?? DEFAULT_TOKEN_ENV;
  const token = env[tokenEnv]?.trim();
  if (!token)
    log(`No token in $${tokenEnv}: calling without one (only an anonymous-mode gateway accepts that).`);

  const result = await waitForHealth({
    url,
    token,
    timeoutMs: timeout * 1000,
    intervalMs: interval * 1000,
    log,
  });
  if (result.ok) return 0;
  if (result.reason === 'caller_auth') {
    log(
      [
        'The gateway rejected the caller token, so waiting will not help. Check that:',
        `  - $${tokenEnv} holds a signed-in user's token for the API's scope (AUTH_APP_ID_URI/access_as_user):`,
        '    az account get-access-token --scope "$AUTH_APP_ID_URI/access_as_user" --query accessToken -o tsv',
        '    (AUTH_APP_ID_URI is a deployment output, api://<AUTH_CLIENT_ID> unless you chose another URI; the',
        '    Azure CLI must be pre-authorised for the scope, as docs/deployment.md sets up);',
        '  - the token comes from the tenant in AUTH_TENANT_ID (az login --tenant <id>);',
        '  - it carries AUTH_REQUIRED_SCOPE (default access_as_user), and AUTH_REQUIRED_ROLE when that is set;',
        '    an app-only token is accepted only with AUTH_REQUIRED_ROLE set and granted to the app.',
      ].join('\n'),
    );
    return 3;
  }
  log(
    [
      `Not healthy after ${Math.round(result.elapsedMs / 1000)} s (last: ${result.last || 'no answer'}).`,
      '  - 503 role_assignment_pending: the Cognitive Services OpenAI User role has not propagated yet; wait and rerun.',
      '  - 404 or no answer: was the app published (func azure functionapp publish <FUNCTION_APP_NAME>)?',
      '  - other 5xx: see the app logs in Application Insights.',
    ].join('\n'),
  );
  return 1;
}

// NOTE: imported by tests for its helpers; runs only when it is the script node was started with.
const entry = process.argv[1] ? await realpath(process.argv[1]).catch(() => process.argv[1]) : undefined;
if (entry === (await realpath(fileURLToPath(import.meta.url)))) {
  process.exitCode = await cli(process.argv.slice(2), process.env, (line) => {
    process.stderr.write(`${line}\n`);
  });
}
