import type { ReadableStreamReadResult } from 'node:stream/web';
import { ApiError } from '../errors';
import type { GatewayRequest } from '../http';

export const MAX_JSON_DEPTH = 64;

export interface BodyLimits {
  maxBytes: number;
  /** How long the whole body may take to arrive. */
  timeoutMs: number;
}

class BodyDeadline extends Error {}

/** How long a late body is still read after the 408, so the answer goes out before the connection closes. */
const ANSWER_GRACE_MS = 1000;

function readBefore(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  deadline: number,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new BodyDeadline());
    }, deadline - Date.now());
  });
  return Promise.race([reader.read(), late]).finally(() => {
    clearTimeout(timer);
  });
}

/**
 * Reads and drops the rest of a body the gateway has already answered, until it ends or the deadline passes.
 * NOTE: cancelling instead would close the connection while the client is still sending, and the client (or
 * the Functions host in front of the worker) then meets a reset instead of the answer.
 */
function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, deadline: number): void {
  void (async () => {
    try {
      for (;;) {
        if ((await readBefore(reader, deadline)).done) return;
      }
    } catch {
      await reader.cancel().catch(() => undefined);
    }
  })();
}

/** Reads at most `maxBytes` within the deadline, failing as soon as the limit is crossed. */
async function readLimited(body: ReadableStream<Uint8Array>, limits: BodyLimits): Promise<Uint8Array> {
  const deadline = Date.now() + limits.timeoutMs;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await readBefore(reader, deadline);
    } catch (error) {
      if (!(error instanceof BodyDeadline)) throw clientGone();
      discardRest(reader, Date.now() + ANSWER_GRACE_MS);
      throw tooSlow(limits.timeoutMs);
    }
    if (result.done) break;
    total += result.value.byteLength;
    if (total > limits.maxBytes) {
      discardRest(reader, deadline);
      throw tooLarge(limits.maxBytes);
    }
    chunks.push(result.value);
  }
  reader.releaseLock();
  return Buffer.concat(chunks, total);
}

const tooLarge = (maxBytes: number) =>
  new ApiError(413, 'request_too_large', `The request body must be at most ${maxBytes} bytes.`);

const tooSlow = (timeoutMs: number) =>
  new ApiError(408, 'request_timeout', `The request body did not arrive within ${timeoutMs} ms.`);

// NOTE: the body stream errors only when the connection goes before the body has ended.
const clientGone = () =>
  new ApiError(
    499,
    'client_closed_request',
    'The caller closed the connection before sending the whole body.',
  );

/** Depth of the deepest array/object, found without parsing, so hostile nesting never reaches JSON.parse. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Content type, size, then syntax and nesting: each a 4xx of its own before any schema runs. */
/** BODY_READ_TIMEOUT_MS's default, for callers that do not pass the setting. */
const DEFAULT_BODY_TIMEOUT_MS = 30_000;

export async function readJsonBody(
  request: GatewayRequest,
  maxBytes: number,
  timeoutMs: number = DEFAULT_BODY_TIMEOUT_MS,
): Promise<unknown> {
  const limits: BodyLimits = { maxBytes, timeoutMs };
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType)) {
    throw new ApiError(
      415,
      'unsupported_media_type',
      'The request body must be JSON (Content-Type: application/json).',
    );
  }
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limits.maxBytes) {
    if (request.body) discardRest(request.body.getReader(), Date.now() + limits.timeoutMs);
    throw tooLarge(limits.maxBytes);
  }
  if (!request.body)
    throw new ApiError(400, 'invalid_json', 'The request body is empty; send a JSON object.');
  const bytes = await readLimited(request.body, limits);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, 'invalid_json', 'The request body is not valid UTF-8.');
  }
  if (text.trim() === '')
    throw new ApiError(400, 'invalid_json', 'The request body is empty; send a JSON object.');
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new ApiError(400, 'invalid_json', `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, 'invalid_json', 'The request body is not valid JSON.');
  }
}
