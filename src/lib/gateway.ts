import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import type OpenAI from 'openai';
import { createAuthenticator, type Authenticate } from './caller/callerAuth';
import { createCallerLimiter, type CallerLimiter } from './caller/callerLimits';
import { createRedisLimiter } from './caller/redisLimiter';
import { createModelCatalog, type ModelCatalog } from './catalog/modelCatalog';
import { makeChatRequestParser } from './chat/chatRequest';
import { makeCompleteChat } from './chat/completeChat';
import { appServiceAuthEnabled, loadConfig, type Config } from './config';
import { chooseCredential, createCredential, describeCredential } from './credential';
import { chatCompletions } from './handlers/chatCompletions';
import { getModel } from './handlers/getModel';
import { health } from './handlers/health';
import { listCatalogModels } from './handlers/listCatalogModels';
import { listModels } from './handlers/listModels';
import { openApiDocument } from './handlers/openApiDocument';
import { responses } from './handlers/responses';
import { routeNotFound } from './handlers/routeNotFound';
import { jsonResponse, type Logger } from './http';
import { limitRequests } from './request/limitRequests';
import { requireCaller } from './request/requireCaller';
import { makeCreateResponse } from './responses/createResponse';
import { makeResponsesRequestParser } from './responses/responsesRequest';
import { makeServe, type Handler } from './request/serve';
import type { RequestTelemetry } from './telemetry/requestTelemetry';
import { activeTelemetry } from './telemetry/startTelemetry';
import { createArmClient } from './upstream/armClient';
import { createOpenAIClient } from './upstream/openaiClient';
import { toApiError } from './upstream/upstreamError';

/**
 * The composition root: builds each dependency once per process and composes every route from the same
 * wrappers (request id + log + error shape, then the caller) around one handler per file.
 */

export type { Handler } from './request/serve';

export interface GatewayDeps {
  config: Config;
  openai: OpenAI;
  catalog: ModelCatalog;
  authenticate: Authenticate;
  limiter: CallerLimiter;
  /** Which credential was chosen, for the first log line. */
  credentialDescription: string;
  /** Where a streamed request's summary goes once its stream ends. Default: console. */
  lateLog?: Logger;
  /** Metrics and traces of each request; set only when telemetry is configured. */
  telemetry?: RequestTelemetry | undefined;
}

export interface Gateway {
  chatCompletions: Handler;
  listModels: Handler;
  getModel: Handler;
  listCatalogModels: Handler;
  health: Handler;
  openApiDocument: Handler;
  responses: Handler;
  routeNotFound: Handler;
}

function describeLimitsStore(config: Config): string {
  const store = config.limitsStore;
  return store.kind === 'memory'
    ? 'counted in this instance'
    : `shared in Redis at ${store.host}:${store.port} (fail mode ${store.failMode})`;
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, catalog } = deps;
  const serve = makeServe({
    lateLog: deps.lateLog,
    telemetry: deps.telemetry,
    announce: (log) => {
      log.info(
        `credential: ${deps.credentialDescription}; caller authentication: ${config.auth.mode}; limits: ${describeLimitsStore(config)}`,
      );
      if (config.auth.mode === 'anonymous') {
        log.warn('AUTH_MODE is anonymous: anyone who can reach this app can spend its Azure OpenAI quota.');
      }
    },
  });
  const caller = requireCaller(deps.authenticate);
  const limited = limitRequests(deps.limiter);
  const complete = makeCompleteChat({ config, client: deps.openai, limiter: deps.limiter });
  const parse = makeChatRequestParser({
    ...config.request,
    maxTokens: config.limits.maxTokens,
    apiVersion: config.openai.apiVersion,
  });

  return {
    chatCompletions: serve(
      'chatCompletions',
      caller(
        chatCompletions({
          parse,
          complete,
          body: { maxBytes: config.request.maxBodyBytes, timeoutMs: config.request.bodyReadTimeoutMs },
        }),
      ),
    ),
    listModels: serve('listModels', caller(limited(listModels(catalog)))),
    getModel: serve('getModel', caller(limited(getModel(catalog)))),
    listCatalogModels: serve(
      'listCatalogModels',
      caller(limited(listCatalogModels(catalog, config.arm.location))),
    ),
    health: serve(
      'health',
      health({ deployment: config.openai.deployment, complete, requireCaller: caller }),
    ),
    openApiDocument: serve('openApiDocument', openApiDocument(config)),
    responses: serve(
      'responses',
      caller(
        responses({
          parse: makeResponsesRequestParser(config.request, config.responses),
          create: makeCreateResponse({ config, client: deps.openai, limiter: deps.limiter }),
          maxBodyBytes: config.request.maxBodyBytes,
        }),
      ),
    ),
    // NOTE: anonymous on purpose: it only names the routes, which the OpenAPI document publishes anyway.
    routeNotFound: serve('routeNotFound', routeNotFound()),
  };
}

/**
 * The limits store LIMITS_STORE names: this instance's memory, or the Redis every instance shares (which falls
 * back to this instance's memory while it is away, when LIMITS_REDIS_FAIL_MODE is open).
 */
export function createLimiter(
  config: Config,
  credential: TokenCredential,
  log: Logger = console,
): CallerLimiter {
  const memory = createCallerLimiter(config.limits);
  if (config.limitsStore.kind === 'memory') return memory;
  const { kind: _kind, ...store } = config.limitsStore;
  return createRedisLimiter({ limits: config.limits, store, credential, fallback: memory, log });
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
    limiter: createLimiter(config, credential),
    credentialDescription: describeCredential(choice),
    telemetry: activeTelemetry(),
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
