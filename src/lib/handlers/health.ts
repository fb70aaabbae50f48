import type { CompleteChat } from '../chat/completeChat';
import { ApiError } from '../errors';
import { jsonResponse } from '../http';
import type { CallerCall } from '../request/requireCaller';
import type { Route } from '../request/serve';
import { toApiError } from '../upstream/upstreamError';

export interface HealthDeps {
  deployment: string;
  complete: CompleteChat;
  /** Wraps the deep check so that only an authenticated caller can spend a completion on it. */
  requireCaller: (route: Route<CallerCall>) => Route;
}

/**
 * GET /api/health answers without touching Azure; `?deep=true` proves a token and a minimal completion
 * for an authenticated caller, and answers 503 with what the operator should do when that fails.
 */
export function health({ deployment, complete, requireCaller }: HealthDeps): Route {
  const deep = requireCaller(async ({ caller, summary }) => {
    try {
      // NOTE: max_completion_tokens, because reasoning models (such as the template's default) refuse max_tokens.
      await complete(
        { messages: [{ role: 'user', content: 'ping' }], max_completion_tokens: 16 },
        caller.key,
        summary,
      );
    } catch (error) {
      throw unhealthy(toApiError(error, { deployment }));
    }
    return {
      response: jsonResponse(200, { status: 'ok', deployment, checks: { token: 'ok', chat: 'ok' } }),
    };
  });
  return (call) =>
    call.request.query.get('deep') === 'true'
      ? deep(call)
      : Promise.resolve({ response: jsonResponse(200, { status: 'ok' }) });
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
