import { randomUUID } from 'node:crypto';
import type { AzureOpenAI } from 'openai';
import { createArmClient } from './armClient';
import { createAuthenticator, type Authenticate, type Caller } from './callerAuth';
import { createCallerLimiter, type CallerLimiter } from './callerLimits';
import { makeChatCompletions, type ChatSummary } from './chatCompletions';
import { makeChatRequestParser } from './chatRequest';
import {
  appServiceAuthEnabled,
  loadConfig,
  locationPattern,
  type Config,
  deploymentNamePattern,
} from './config';
import { chooseCredential, createCredential, describeCredential } from './credential';
import { ApiError, internalError } from './errors';
import {
  EXPOSED_HEADERS,
  jsonResponse,
  type GatewayRequest,
  type GatewayResponse,
  type Logger,
} from './http';
import { createModelCatalog, type ModelCatalog } from './modelCatalog';
import { createOpenAIClient } from './openaiClient';
import { buildOpenApiDocument } from './openapi';
import { readJsonBody } from './requestBody';
import type { RelayOutcome } from './sseRelay';
import { toApiError } from './upstreamError';

/**
 * The gateway's request handlers, each `(request, logger) → response`, built once per process from its
 * dependencies. Every handler answers in the one error shape and logs one summary line per request.
 */

export interface GatewayDeps {
  config: Config;
  openai: AzureOpenAI;
  catalog: ModelCatalog;
  authenticate: Authenticate;
  limiter: CallerLimiter;
  /** Which credential was chosen, for the first log line. */
  credentialDescription: string;
  /**
   * Where a streamed request's summary goes once its stream ends. The invocation context is finished by then
   * (the Functions library warns about late calls), so the process log takes the line. Default: console.
   */
  lateLog?: Logger;
}

export type Handler = (request: GatewayRequest, log: Logger) => Promise<GatewayResponse>;

export interface Gateway {
  chatCompletions: Handler;
  listModels: Handler;
  getModel: Handler;
  listCatalogModels: Handler;
  health: Handler;
  openApiDocument: Handler;
}

interface Summary extends ChatSummary {
  function: string;
  requestId: string;
  status?: number;
  durationMs?: number;
  caller?: string;
  error?: string;
}

interface Served {
  response: GatewayResponse;
  streamDone?: Promise<RelayOutcome> | undefined;
}

interface Call {
  request: GatewayRequest;
  caller: Caller | undefined;
  summary: Summary;
}

const capabilityPattern = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

function logSummary(log: Logger, summary: Summary, error: ApiError | undefined, cause: unknown): void {
  const line = `request ${JSON.stringify(summary)}`;
  if (!error || error.status < 400) log.info(line);
  else if (error.status >= 500 && error.status !== 503) {
    log.error(line, error.logDetail ?? '', error.status === 500 ? describeUnexpected(cause) : '');
  } else log.warn(line, error.logDetail ?? '');
}

// NOTE: unexpected errors are logged by name and stack only; their messages may quote request data.
function describeUnexpected(error: unknown): string {
  if (!(error instanceof Error) || error instanceof ApiError) return '';
  return `${error.name}\n${(error.stack ?? '').split('\n').slice(1, 8).join('\n')}`;
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, authenticate, catalog } = deps;
  const parseChat = makeChatRequestParser({ ...config.request, maxTokens: config.limits.maxTokens });
  const complete = makeChatCompletions({ config, client: deps.openai, limiter: deps.limiter });
  let announced = false;
  let openApiBody: string | undefined;

  const serve =
    (name: string, options: { authenticate: boolean }, handle: (call: Call) => Promise<Served>): Handler =>
    async (request, log) => {
      if (!announced) {
        announced = true;
        log.info(`credential: ${deps.credentialDescription}; caller authentication: ${config.auth.mode}`);
        if (config.auth.mode === 'anonymous') {
          log.warn('AUTH_MODE is anonymous: anyone who can reach this app can spend its Azure OpenAI quota.');
        }
      }
      const started = performance.now();
      const summary: Summary = { function: name, requestId: randomUUID() };
      let served: Served;
      let failure: ApiError | undefined;
      let cause: unknown;
      try {
        const caller = options.authenticate ? await authenticate(request.headers) : undefined;
        if (caller) summary.caller = caller.hash;
        served = await handle({ request, caller, summary });
      } catch (error) {
        cause = error;
        failure = toApiError(error, { deployment: summary.deployment ?? '' });
        summary.error = failure.code;
        served = { response: jsonResponse(failure.status, failure.toBody(), failure.headers) };
      }
      const { response, streamDone } = served;
      response.headers['x-request-id'] = summary.requestId;
      response.headers['access-control-expose-headers'] = EXPOSED_HEADERS;
      summary.status = response.status;
      if (streamDone) {
        void streamDone.then((outcome) => {
          summary.durationMs = Math.round(performance.now() - started);
          if (outcome.error) summary.error = outcome.error.code;
          logSummary(deps.lateLog ?? console, summary, outcome.error, undefined);
        });
      } else {
        summary.durationMs = Math.round(performance.now() - started);
        logSummary(log, summary, failure, cause);
      }
      return response;
    };

  const requireCaller = (caller: Caller | undefined): Caller => {
    if (!caller) throw internalError();
    return caller;
  };

  return {
    chatCompletions: serve(
      'chatCompletions',
      { authenticate: true },
      async ({ request, caller, summary }) => {
        const body = parseChat(await readJsonBody(request, config.request.maxBodyBytes));
        const result = await complete(body, requireCaller(caller).key, summary);
        return { response: result, streamDone: result.streamDone };
      },
    ),

    listModels: serve('listModels', { authenticate: true }, async () => ({
      response: jsonResponse(200, { object: 'list', data: await catalog.deployments() }),
    })),

    getModel: serve('getModel', { authenticate: true }, async ({ request }) => {
      const id = request.params.id ?? '';
      const notFound = new ApiError(
        404,
        'model_not_found',
        `The model "${id.slice(0, 64)}" does not exist or is not available through this API.`,
        { param: 'id' },
      );
      if (!deploymentNamePattern.test(id)) throw notFound;
      const entry = (await catalog.deployments()).find((model) => model.id === id);
      if (!entry) throw notFound;
      return { response: jsonResponse(200, entry) };
    }),

    listCatalogModels: serve('listCatalogModels', { authenticate: true }, async ({ request }) => {
      const location = request.query.get('location') ?? config.arm.location;
      if (!locationPattern.test(location)) {
        throw new ApiError(400, 'invalid_request', 'location must be an Azure region name such as eastus2.', {
          param: 'location',
        });
      }
      const capabilities = (request.query.get('capability') ?? '').split(',').filter((value) => value !== '');
      const invalid = capabilities.find((value) => !capabilityPattern.test(value));
      if (invalid !== undefined) {
        throw new ApiError(
          400,
          'invalid_request',
          'capability must be a capability name such as chatCompletion.',
          { param: 'capability' },
        );
      }
      const models = await catalog.region(location);
      const data = models.filter((model) =>
        capabilities.every((capability) => model.capabilities[capability] === true),
      );
      return { response: jsonResponse(200, { object: 'list', data }) };
    }),

    // NOTE: anonymous on purpose: the description of the API holds nothing a caller may not know.
    openApiDocument: serve('openApiDocument', { authenticate: false }, () => {
      openApiBody ??= JSON.stringify(buildOpenApiDocument(config));
      return Promise.resolve({
        response: {
          status: 200,
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'cache-control': 'public, max-age=300',
          },
          body: openApiBody,
        },
      });
    }),

    health: serve('health', { authenticate: false }, async ({ request, summary }) => {
      if (request.query.get('deep') !== 'true') return { response: jsonResponse(200, { status: 'ok' }) };
      const caller = await authenticate(request.headers);
      summary.caller = caller.hash;
      try {
        await complete({ messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, caller.key, summary);
      } catch (error) {
        throw unhealthy(toApiError(error, { deployment: config.openai.deployment }));
      }
      return {
        response: jsonResponse(200, {
          status: 'ok',
          deployment: config.openai.deployment,
          checks: { token: 'ok', chat: 'ok' },
        }),
      };
    }),
  };
}

/** A deep health failure: always 503, with what the operator should do about it. */
function unhealthy(error: ApiError): ApiError {
  if (error.status === 429 || error.status === 401 || error.status === 403) return error;
  if (error.code === 'upstream_permission_denied') {
    return new ApiError(503, 'role_assignment_pending', `Not ready: ${error.message}`, {
      logDetail: error.logDetail ?? '',
    });
  }
  return new ApiError(503, error.code, `Not ready: ${error.message}`, { logDetail: error.logDetail ?? '' });
}

/** Builds the gateway from settings. Constructors only describe configuration; nothing is fetched here. */
export function buildGateway(env: NodeJS.ProcessEnv = process.env): Gateway {
  const config = loadConfig(env);
  const choice = chooseCredential(config.credential, env);
  const credential = createCredential(choice);
  let arm: ReturnType<typeof createArmClient> | undefined;
  return createGateway({
    config,
    openai: createOpenAIClient(config, credential),
    catalog: createModelCatalog(config, () => (arm ??= createArmClient(config, credential))),
    authenticate: createAuthenticator(config.auth, appServiceAuthEnabled(env)),
    limiter: createCallerLimiter(config.limits),
    credentialDescription: describeCredential(choice),
  });
}

let instance: Gateway | undefined;

/** The process's gateway, built on first use. Invalid settings fail every request with a 500 naming them. */
export function getGateway(): Gateway {
  instance ??= buildGateway();
  return instance;
}

/**
 * The handler a function registers: resolves the gateway on first call so a settings problem becomes a
 * clear 500 naming the settings, not a failed start.
 */
export function gatewayHandler(name: keyof Gateway, resolve: () => Gateway = getGateway): Handler {
  return async (request, log) => {
    let gateway: Gateway;
    try {
      gateway = resolve();
    } catch (error) {
      const failure = toApiError(error);
      log.error(
        `request ${JSON.stringify({ function: name, status: failure.status, error: failure.code })}`,
        failure.message,
      );
      return jsonResponse(failure.status, failure.toBody(), { 'x-request-id': randomUUID() });
    }
    return gateway[name](request, log);
  };
}
