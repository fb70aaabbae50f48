import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startEmulator, type Emulator } from '../../tools/emulator/index';

/**
 * Points the managed identity variables MSAL reads at the emulator for this test file; the returned function
 * puts back what was there before.
 */
export function pointIdentityAt(emulator: Emulator): () => void {
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
  process.env.IDENTITY_ENDPOINT = emulator.urls.identity;
  process.env.IDENTITY_HEADER = emulator.identityHeader;
  return () => {
    if (saved.endpoint === undefined) delete process.env.IDENTITY_ENDPOINT;
    else process.env.IDENTITY_ENDPOINT = saved.endpoint;
    if (saved.header === undefined) delete process.env.IDENTITY_HEADER;
    else process.env.IDENTITY_HEADER = saved.header;
  };
}

/**
 * One emulator for a whole test file with a service token for Azure OpenAI: started before the tests, reset
 * after each, closed after all. Read `file.emulator` and `file.token` inside tests.
 */
export function emulatorForFile(): { readonly emulator: Emulator; readonly token: string } {
  const file = {} as { emulator: Emulator; token: string };
  beforeAll(async () => {
    file.emulator = await startEmulator();
    file.token = await serviceToken(file.emulator);
  });
  afterEach(async () => {
    await file.emulator.admin.reset();
  });
  afterAll(async () => {
    await file.emulator.close();
  });
  return file;
}

export const COGNITIVE_SERVICES = 'https://cognitiveservices.azure.com';
export const MANAGEMENT = 'https://management.azure.com';
export const API_VERSION = '2024-10-21';

/** A service token straight from the identity endpoint (no MSAL, so no process-wide cache). */
export async function serviceToken(
  emulator: Emulator,
  resource: string = COGNITIVE_SERVICES,
  identity: Record<string, string> = {},
): Promise<string> {
  const query = new URLSearchParams({ 'api-version': '2019-08-01', resource, ...identity });
  const response = await fetch(`${emulator.urls.identity}?${query.toString()}`, {
    headers: { 'x-identity-header': emulator.identityHeader },
  });
  if (!response.ok)
    throw new Error(`identity endpoint answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

export function datedChatUrl(
  emulator: Emulator,
  deployment = emulator.deployment,
  apiVersion: string | null = API_VERSION,
): string {
  const query = apiVersion === null ? '' : `?api-version=${apiVersion}`;
  return `${emulator.urls.openai}/openai/deployments/${deployment}/chat/completions${query}`;
}

export function v1ChatUrl(emulator: Emulator): string {
  return `${emulator.urls.openai}/openai/v1/chat/completions`;
}

/** POSTs a chat completion body with a bearer token (or the given headers instead). */
export function postChat(
  url: string,
  body: unknown,
  auth: { token: string } | { headers: Record<string, string> },
  signal?: AbortSignal,
): Promise<Response> {
  const headers = 'token' in auth ? { authorization: `Bearer ${auth.token}` } : auth.headers;
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

export interface ReceivedEvent {
  data: string;
  /** ms since the request was sent, when the event was complete. */
  at: number;
}

/** Reads an SSE body event by event, timestamping each; stops at the end of the body. */
export async function readEvents(response: Response, startedAt: number): Promise<ReceivedEvent[]> {
  if (!response.body) throw new Error('response has no body');
  const events: ReceivedEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  // NOTE: the DOM typings give Response.body `any` chunks; fetch's are bytes.
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end !== -1) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      events.push({ data: event.replace(/^data: /, ''), at: performance.now() - startedAt });
      end = buffer.indexOf('\n\n');
    }
  }
  return events;
}

export const userMessage = (content: string): { role: 'user'; content: string } => ({
  role: 'user',
  content,
});

export interface ArmAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/**
 * A raw GET to the emulated ARM, trusting its certificate through `ca` (in-process fetch cannot: NODE_EXTRA_CA_CERTS
 * is read at process start).
 */
export function armGet(emulator: Emulator, pathAndQuery: string, token?: string): Promise<ArmAnswer> {
  const url = pathAndQuery.startsWith('https://') ? pathAndQuery : `${emulator.urls.arm}${pathAndQuery}`;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ca: readFileSync(emulator.caCertPath, 'utf8'),
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text === '' ? undefined : (JSON.parse(text) as unknown),
          });
        });
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error('ARM request timed out'));
    });
    req.on('error', reject);
    req.end();
  });
}
