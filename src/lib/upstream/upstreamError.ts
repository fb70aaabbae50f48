import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  OpenAIError,
} from 'openai';
import { ConfigError } from '../config';
import { upstreamCode } from '../errorCodes';
import { ApiError, internalError, retryAfterHeaders } from '../errors';
import { retryAfterMs } from './retryAfter';

/**
 * Maps whatever an upstream call threw (openai SDK, ARM SDK, credential) onto the gateway's error contract.
 * Upstream messages are not passed through except where they describe the caller's own request.
 */

const PERMISSION_HINT =
  'Azure OpenAI refused the gateway’s identity. Assign the "Cognitive Services OpenAI User" role to the ' +
  'function app’s managed identity (or, locally, to your az login) on the Azure OpenAI account. New role ' +
  'assignments can take several minutes to take effect.';

const ARM_PERMISSION_HINT =
  'Azure Resource Manager refused the gateway’s identity. Assign "Cognitive Services OpenAI User" on the ' +
  'Azure OpenAI account for deployments, and a subscription-scope read for a region’s model catalog. New role ' +
  'assignments can take several minutes to take effect.';

const CREDENTIAL_ERRORS = new Set([
  'CredentialUnavailableError',
  'AuthenticationError',
  'AggregateAuthenticationError',
]);

const isCredentialError = (error: unknown): error is Error =>
  error instanceof Error && CREDENTIAL_ERRORS.has(error.name);

interface RestErrorLike extends Error {
  statusCode?: number;
  code?: string;
  response?: { headers: { get(name: string): string | undefined } };
}

const isRestError = (error: unknown): error is RestErrorLike =>
  error instanceof Error && error.name === 'RestError';

const truncate = (text: string, max = 500): string => (text.length > max ? `${text.slice(0, max)}…` : text);

function errorObject(error: APIError): Record<string, unknown> {
  const body: unknown = error.error;
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

export function rateLimited(waitMs: number | undefined, source: string): ApiError {
  const wait = waitMs ?? 1000;
  return new ApiError(
    429,
    'rate_limited',
    `${source} is rate limiting this deployment. Retry after ${Math.ceil(wait / 1000)} seconds.`,
    {
      headers: retryAfterHeaders(wait),
    },
  );
}

/**
 * The parameter an "unknown parameter" 400 names, in either wording: the dated API's
 * `Unrecognized request argument supplied: <name>` (no `param`) or v1's `Unknown parameter: '<name>'.`
 * (`code: unknown_parameter`, OpenAI's wording).
 */
function unknownParameter(upstream: Record<string, unknown>): string | undefined {
  const message = typeof upstream.message === 'string' ? upstream.message : '';
  const named =
    /^Unrecognized request argument supplied: ([\w.[\]-]+)/.exec(message) ??
    /^Unknown parameter: '([^']+)'/.exec(message);
  if (named?.[1] !== undefined) return named[1];
  return upstream.code === 'unknown_parameter' && typeof upstream.param === 'string'
    ? upstream.param
    : undefined;
}

function fromOpenAI(error: APIError<number>, context: UpstreamContext): ApiError {
  const { deployment } = context;
  const upstream = errorObject(error);
  const code = typeof upstream.code === 'string' ? upstream.code : String(error.status);
  const logDetail = `Azure OpenAI ${error.status} ${code}`;
  const status = error.status;
  if (status === 400 && code === 'content_filter') {
    const inner = (upstream.innererror ?? upstream.inner_error) as Record<string, unknown> | undefined;
    const result = inner?.content_filter_result ?? inner?.content_filter_results;
    return new ApiError(400, 'content_filter', 'The prompt was blocked by the Azure OpenAI content filter.', {
      param: context.promptParam ?? 'messages',
      details: result === undefined ? {} : { content_filter_result: result },
      logDetail,
    });
  }
  const unknown = status === 400 ? unknownParameter(upstream) : undefined;
  if (unknown !== undefined) {
    return new ApiError(400, 'invalid_request', `Unrecognized request argument supplied: ${unknown}`, {
      param: unknown,
      logDetail,
    });
  }
  if (status === 400 || status === 422) {
    const param = typeof upstream.param === 'string' ? upstream.param : null;
    const message =
      typeof upstream.message === 'string'
        ? truncate(upstream.message)
        : 'Azure OpenAI rejected the request.';
    return new ApiError(400, code === '400' ? 'invalid_request' : upstreamCode(code), message, {
      param,
      logDetail,
    });
  }
  if (status === 401 || status === 403) {
    return new ApiError(502, 'upstream_permission_denied', PERMISSION_HINT, { logDetail });
  }
  if (status === 404) {
    return code === 'DeploymentNotFound'
      ? new ApiError(
          502,
          'upstream_deployment_not_found',
          `The Azure OpenAI account has no deployment named "${deployment}". Check AZURE_OPENAI_DEPLOYMENT and AZURE_OPENAI_ALLOWED_DEPLOYMENTS; a new deployment can take a few minutes to appear.`,
          { logDetail },
        )
      : new ApiError(
          502,
          'upstream_not_found',
          'Azure OpenAI did not recognise the request path. Check AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_VERSION.',
          { logDetail },
        );
  }
  if (status === 408) return new ApiError(504, 'upstream_timeout', 'Azure OpenAI timed out.', { logDetail });
  if (status === 429) return rateLimited(retryAfterMs(error.headers), 'Azure OpenAI');
  return new ApiError(502, 'upstream_error', 'Azure OpenAI returned an error. Try again later.', {
    logDetail,
  });
}

function fromArm(error: RestErrorLike): ApiError {
  const status = error.statusCode ?? 0;
  const logDetail = `ARM ${status} ${error.code ?? ''}`.trim();
  if (status === 401 || status === 403)
    return new ApiError(502, 'upstream_permission_denied', ARM_PERMISSION_HINT, { logDetail });
  if (status === 404) {
    return new ApiError(
      502,
      'upstream_resource_not_found',
      'The Azure OpenAI account was not found. Check AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and AZURE_OPENAI_ACCOUNT_NAME.',
      { logDetail },
    );
  }
  if (status === 429) return rateLimited(retryAfterMs(error.response?.headers), 'Azure Resource Manager');
  if (status === 0)
    return new ApiError(502, 'upstream_unreachable', 'Azure Resource Manager could not be reached.', {
      logDetail: `ARM ${error.code ?? 'network error'}`,
    });
  return new ApiError(502, 'upstream_error', 'Azure Resource Manager returned an error. Try again later.', {
    logDetail,
  });
}

const credentialUnavailable = (error: Error): ApiError =>
  new ApiError(
    503,
    'credential_unavailable',
    'The gateway could not get a Microsoft Entra token for Azure. Its log says why.',
    {
      // NOTE: the SDK's message is actionable ("Please run 'az login'…") and holds no secret, so the log keeps it.
      logDetail: `${error.name}: ${truncate(error.message, 1000)}`,
    },
  );

export interface UpstreamContext {
  deployment: string;
  /** True when the gateway's own deadline, not the caller, aborted the call. */
  timedOut?: boolean;
  /** Where the prompt is in the caller's request, for a content-filter refusal. Default: messages. */
  promptParam?: string;
}

export function toApiError(error: unknown, context: UpstreamContext = { deployment: '' }): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ConfigError) {
    return new ApiError(
      500,
      'configuration_error',
      `The gateway is misconfigured: ${error.problems.join('; ')}.`,
    );
  }
  if (isCredentialError(error)) return credentialUnavailable(error);
  if (error instanceof APIUserAbortError) {
    return context.timedOut
      ? new ApiError(504, 'upstream_timeout', 'Azure OpenAI did not answer in time.')
      : new ApiError(499, 'client_closed_request', 'The caller closed the request.');
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new ApiError(504, 'upstream_timeout', 'Azure OpenAI did not answer in time.');
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    return fromOpenAI(error as APIError<number>, context);
  }
  if (error instanceof OpenAIError && isCredentialError(error.cause))
    return credentialUnavailable(error.cause);
  if (error instanceof APIConnectionError) {
    return new ApiError(502, 'upstream_unreachable', 'Azure OpenAI could not be reached.', {
      logDetail: 'connection error',
    });
  }
  if (isRestError(error)) {
    return isCredentialError(error.cause) ? credentialUnavailable(error.cause) : fromArm(error);
  }
  if (error instanceof Error && error.name === 'AbortError' && context.timedOut) {
    return new ApiError(504, 'upstream_timeout', 'Azure did not answer in time.');
  }
  return internalError();
}
