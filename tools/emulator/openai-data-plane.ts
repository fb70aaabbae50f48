import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { catalogModelOf, findDeployment, isReasoningModel, numericCapability, supportsChat } from './catalog';
import {
  completionBody,
  completionEvents,
  completionTokenCount,
  contentFilterTrigger,
  DEFAULT_COMPLETION_TOKENS,
  estimatePromptTokens,
  generateCompletion,
  isInvalid,
  modelParameterError,
  parseChatRequest,
  promptFilterResults,
  type ChatRequest,
} from './chat-completion';
import { surfaceOf } from './chat-schema';
import type { EmulatorContext } from './emulator-context';
import { statusFaultResponse } from './faults';
import {
  bearerToken,
  BodyTooLargeError,
  header,
  newRequestId,
  parseJson,
  readBody,
  responseClosedSignal,
  sendJson,
  sleepUnlessAborted,
  type RequestHandler,
} from './http-util';
import { rateLimitedBody, type Admission } from './rate-limits';
import { writeSse } from './sse';

const DATED_PATH = /^\/openai\/deployments\/([^/]+)\/chat\/completions\/?$/;
const V1_PATH = /^\/openai\/v1\/chat\/completions\/?$/;
const DATED_API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;
const V1_API_VERSIONS = new Set(['v1', 'preview', 'latest']);

const DATA_AUDIENCES = ['https://cognitiveservices.azure.com', 'https://ai.azure.com'];
const CHAT_DATA_ACTION = 'Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action';

const RESOURCE_NOT_FOUND = { error: { code: '404', message: 'Resource not found' } };
const UNAUTHORIZED = {
  statusCode: 401,
  message:
    'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.',
};
const KEY_AUTH_DISABLED = {
  error: {
    code: 'AuthenticationTypeDisabled',
    message: 'Key based authentication is disabled for this resource.',
  },
};
const DEPLOYMENT_NOT_FOUND = {
  error: {
    code: 'DeploymentNotFound',
    message:
      'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
  },
};
const UNPARSABLE_JSON = {
  error: {
    message:
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    type: 'invalid_request_error',
    param: null,
    code: null,
  },
};
const CONTENT_FILTER_MESSAGE =
  "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766";

const regionNames: Record<string, string> = {
  eastus: 'East US',
  eastus2: 'East US 2',
  westus: 'West US',
  westus3: 'West US 3',
  northcentralus: 'North Central US',
  southcentralus: 'South Central US',
  swedencentral: 'Sweden Central',
  westeurope: 'West Europe',
  francecentral: 'France Central',
  uksouth: 'UK South',
  japaneast: 'Japan East',
  australiaeast: 'Australia East',
};

type Route = { api: 'dated'; deployment: string; apiVersion: string } | { api: 'v1'; apiVersion: string };

type RouteResult = { ok: true; route: Route } | { ok: false; status: number; body: unknown };

function resolveRoute(req: IncomingMessage, url: URL): RouteResult {
  const notFound: RouteResult = { ok: false, status: 404, body: RESOURCE_NOT_FOUND };
  if (req.method !== 'POST') return notFound;
  const apiVersion = url.searchParams.get('api-version');
  const dated = DATED_PATH.exec(url.pathname);
  if (dated) {
    let deployment: string;
    try {
      deployment = decodeURIComponent(dated[1] ?? '');
    } catch {
      return notFound;
    }
    // NOTE: Azure answers a missing or unknown api-version on the dated surface with 404, not 400.
    if (apiVersion === null || !DATED_API_VERSION.test(apiVersion)) return notFound;
    return { ok: true, route: { api: 'dated', deployment, apiVersion } };
  }
  if (V1_PATH.test(url.pathname)) {
    if (apiVersion !== null && !V1_API_VERSIONS.has(apiVersion)) {
      return {
        ok: false,
        status: 400,
        body: { error: { code: 'BadRequest', message: 'API version not supported' } },
      };
    }
    return { ok: true, route: { api: 'v1', apiVersion: apiVersion ?? 'v1' } };
  }
  return notFound;
}

function rateLimitHeaders(admission: Admission): OutgoingHttpHeaders {
  return {
    'x-ratelimit-limit-requests': String(admission.limit.requestsPer10Seconds),
    'x-ratelimit-limit-tokens': String(admission.limit.tokensPerMinute),
    'x-ratelimit-remaining-requests': String(admission.remainingRequests),
    'x-ratelimit-remaining-tokens': String(admission.remainingTokens),
  };
}

function promptBlockedBody(api: Route['api']): unknown {
  const details = { code: 'ResponsibleAIPolicyViolation', content_filter_result: promptFilterResults(true) };
  return {
    error: {
      message: CONTENT_FILTER_MESSAGE,
      type: null,
      param: 'prompt',
      code: 'content_filter',
      status: 400,
      ...(api === 'dated'
        ? { innererror: details }
        : { inner_error: { code: details.code, content_filter_results: details.content_filter_result } }),
    },
  };
}

function contextLimitError(
  request: ChatRequest,
  promptTokens: number,
  context: number,
  maxOutput: number,
): unknown {
  if (request.maxTokens !== undefined && request.maxTokens > maxOutput) {
    return {
      error: {
        message: `max_tokens is too large: ${request.maxTokens}. This model supports at most ${maxOutput} completion tokens, whereas you provided ${request.maxTokens}.`,
        type: 'invalid_request_error',
        param: 'max_tokens',
        code: null,
      },
    };
  }
  const completionTokens = request.maxTokens ?? DEFAULT_COMPLETION_TOKENS;
  if (promptTokens + completionTokens <= context) return undefined;
  return {
    error: {
      message: `This model's maximum context length is ${context} tokens. However, you requested ${promptTokens + completionTokens} tokens (${promptTokens} in the messages, ${completionTokens} in the completion). Please reduce the length of the messages or completion.`,
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    },
  };
}

/**
 * Azure OpenAI chat completions on both surfaces: dated `/openai/deployments/{d}/chat/completions?api-version=…`
 * and v1 `/openai/v1/chat/completions` (deployment in `model`). Checks run in Azure's order: route, key auth,
 * token, role, deployment, body, quota, content filter.
 */
export function createOpenAIDataPlane(ctx: EmulatorContext): RequestHandler {
  const region = regionNames[ctx.ids.location] ?? ctx.ids.location;

  return async (req, res, url) => {
    const requestId = newRequestId();
    const baseHeaders: OutgoingHttpHeaders = {
      'apim-request-id': requestId,
      'x-request-id': requestId,
      'x-ms-region': region,
    };
    const reply = (status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void => {
      sendJson(res, status, body, { ...baseHeaders, ...headers });
    };

    const routed = resolveRoute(req, url);
    if (!routed.ok) {
      reply(routed.status, routed.body);
      return;
    }
    const { route } = routed;
    ctx.stats.chatCalls += 1;

    const fault = ctx.faults.takeStatus('openai');
    if (fault) {
      const { body, headers } = statusFaultResponse(fault, route.apiVersion);
      reply(fault.status, body, headers);
      return;
    }
    if (header(req, 'api-key') !== undefined) {
      reply(403, KEY_AUTH_DISABLED);
      return;
    }
    const token = bearerToken(req);
    const check = token === undefined ? undefined : await ctx.entra.verify(token, DATA_AUDIENCES);
    if (!check?.ok) {
      reply(401, UNAUTHORIZED);
      return;
    }
    if (
      !ctx.roles.isAllowed(check.objectId, {
        kind: 'dataAction',
        operation: CHAT_DATA_ACTION,
        target: 'account',
      })
    ) {
      const operation =
        route.api === 'dated'
          ? 'POST /openai/deployments/{deployment-id}/chat/completions'
          : 'POST /openai/v1/chat/completions';
      reply(401, {
        error: {
          code: 'PermissionDenied',
          message: `The principal \`${check.objectId}\` lacks the required data action \`${CHAT_DATA_ACTION}\` to perform \`${operation}\` operation.`,
        },
      });
      return;
    }
    if (route.api === 'dated' && !findDeployment(route.deployment)) {
      reply(404, DEPLOYMENT_NOT_FOUND);
      return;
    }

    let text: string;
    try {
      text = await readBody(req);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      reply(
        413,
        { error: { code: 'RequestEntityTooLarge', message: error.message } },
        { connection: 'close' },
      );
      return;
    }
    const json = parseJson(text);
    if (!json.ok) {
      reply(400, UNPARSABLE_JSON);
      return;
    }
    const request = parseChatRequest(json.value, surfaceOf(route));
    if (isInvalid(request)) {
      reply(request.status, request.body);
      return;
    }
    const deploymentName = route.api === 'dated' ? route.deployment : request.model;
    if (deploymentName === undefined) {
      reply(400, {
        error: {
          message: 'you must provide a model parameter',
          type: 'invalid_request_error',
          param: 'model',
          code: null,
        },
      });
      return;
    }
    const deployment = findDeployment(deploymentName);
    if (!deployment) {
      reply(404, DEPLOYMENT_NOT_FOUND);
      return;
    }
    const model = catalogModelOf(deployment);
    if (!supportsChat(model)) {
      reply(400, {
        error: {
          code: 'OperationNotSupported',
          message: `The chatCompletion operation does not work with the specified model, ${model.name}. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.`,
        },
      });
      return;
    }
    const reasoning = isReasoningModel(model);
    const unsupported = modelParameterError(request, reasoning);
    if (unsupported) {
      reply(unsupported.status, unsupported.body);
      return;
    }
    const promptTokens = estimatePromptTokens(request);
    const tooLong = contextLimitError(
      request,
      promptTokens,
      numericCapability(model, 'maxContextToken', 128_000),
      numericCapability(model, 'maxOutputToken', 16_384),
    );
    if (tooLong) {
      reply(400, tooLong);
      return;
    }

    const admission = ctx.rateLimits.admit(
      deployment.name,
      promptTokens + (request.maxTokens ?? DEFAULT_COMPLETION_TOKENS),
    );
    if (!admission.admitted) {
      const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
      reply(429, rateLimitedBody(route.apiVersion, admission.exceeded, seconds), {
        'retry-after': String(seconds),
        'retry-after-ms': String(seconds * 1000),
        'x-ratelimit-remaining-requests': String(admission.remainingRequests),
        'x-ratelimit-remaining-tokens': String(admission.remainingTokens),
      });
      return;
    }
    if (contentFilterTrigger(request) === 'prompt') {
      reply(400, promptBlockedBody(route.api));
      return;
    }

    const completion = generateCompletion(request, model, promptTokens, reasoning);
    const successHeaders = {
      ...baseHeaders,
      'x-ms-deployment-name': deployment.name,
      ...rateLimitHeaders(admission),
    };
    const signal = AbortSignal.any([responseClosedSignal(res), ctx.closing]);
    const latency = ctx.faults.latency();
    if (!(await sleepUnlessAborted(latency.firstTokenMs, signal))) return;

    if (!request.stream) {
      if (!(await sleepUnlessAborted(latency.perTokenMs * completionTokenCount(completion), signal))) return;
      sendJson(res, 200, completionBody(completion), successHeaders);
      return;
    }
    writeStreamHead(res, successHeaders);
    await writeSse(res, completionEvents(completion, request.includeUsage), {
      perTokenMs: latency.perTokenMs,
      streamBreak: ctx.faults.streamBreak(),
      signal,
    });
  };
}

function writeStreamHead(res: ServerResponse, headers: OutgoingHttpHeaders): void {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  res.flushHeaders();
}
