import { createAuthenticator } from '../src/lib/caller/callerAuth';
import { appServiceAuthEnabled, loadConfig } from '../src/lib/config';
import { chooseCredential, createCredential, describeCredential } from '../src/lib/credential';
import { createGateway, createLimiter } from '../src/lib/gateway';
import type { GatewayRequest, Logger } from '../src/lib/http';
import { createOpenAIClient } from '../src/lib/upstream/openaiClient';
import { runPool, type Batch, type ChatLoad } from './load';

/**
 * The gateway's own chat handler called in this process, with no Functions host, library proxy or socket in
 * front of it: what the app itself adds on top of the Azure OpenAI call it makes, separated from what hosting
 * adds. The handler is wired from src/ as buildGateway wires it, with the same settings the deployed app
 * gets (LIMITS_STORE included); only its log lines (and the model catalog, never called here) are left out.
 */

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function inProcessGateway(env: Record<string, string>, callerToken: string) {
  const config = loadConfig(env);
  const choice = chooseCredential(config.credential, env);
  const credential = createCredential(choice);
  const limiter = createLimiter(config, credential, silent);
  const unused = () => Promise.reject(new Error('The model catalog is not part of this measurement.'));
  const gateway = createGateway({
    config,
    openai: createOpenAIClient(config, credential),
    catalog: { deployments: unused, region: unused },
    authenticate: createAuthenticator(config.auth, appServiceAuthEnabled(env)),
    limiter,
    credentialDescription: describeCredential(choice),
    lateLog: silent,
  });
  const request = (json: string): GatewayRequest => ({
    method: 'POST',
    url: 'http://127.0.0.1/api/chat/completions',
    headers: new Headers({
      authorization: `Bearer ${callerToken}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(json)),
    }),
    query: new URLSearchParams(),
    params: {},
    body: new Blob([json]).stream(),
  });

  const chat = async (load: ChatLoad, count: number, concurrency: number, offset = 0): Promise<Batch> => {
    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const started = performance.now();
    await runPool(count, concurrency, async (index) => {
      const json = JSON.stringify({
        model: load.model,
        messages: [{ role: 'user', content: `Benchmark request ${offset + index}` }],
        max_completion_tokens: load.maxTokens,
      });
      const sent = performance.now();
      const response = await gateway.chatCompletions(request(json), silent);
      // NOTE: parsed as a caller would, so both paths end with the completion as an object.
      if (response.status === 200 && typeof response.body === 'string') {
        JSON.parse(response.body);
        latencies.push(performance.now() - sent);
      } else {
        errors++;
        firstError ??= `status ${response.status}`;
      }
    });
    return { latencies, errors, firstError, elapsedMs: performance.now() - started };
  };

  /** Time from calling the handler to the first byte of its streamed body; the rest is read and dropped. */
  const streamFirstByte = async (body: unknown): Promise<number> => {
    const sent = performance.now();
    const response = await gateway.chatCompletions(request(JSON.stringify(body)), silent);
    if (response.status !== 200 || typeof response.body !== 'object') {
      throw new Error(`in-process stream answered ${response.status}`);
    }
    const reader = response.body.getReader();
    let firstByte = Number.NaN;
    for (;;) {
      const { done } = await reader.read();
      if (Number.isNaN(firstByte)) firstByte = performance.now() - sent;
      if (done) break;
    }
    return firstByte;
  };

  /** Opens a stream through the handler, reports its first byte, and resolves once it has been read to the end. */
  const openStream = async (body: unknown, onFirstByte: () => void): Promise<void> => {
    const response = await gateway.chatCompletions(request(JSON.stringify(body)), silent);
    if (response.status !== 200 || typeof response.body !== 'object') {
      throw new Error(`in-process stream answered ${response.status}`);
    }
    const reader = response.body.getReader();
    let first = true;
    for (;;) {
      const { done } = await reader.read();
      if (first) {
        first = false;
        onFirstByte();
      }
      if (done) break;
    }
  };

  /** Closes the limits store's connection (LIMITS_STORE=redis). */
  const close = () => limiter.close();

  return { chat, streamFirstByte, openStream, close };
}
