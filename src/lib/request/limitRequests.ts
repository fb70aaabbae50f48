import type { CallerLimiter } from '../caller/callerLimits';
import type { CallerCall } from './requireCaller';
import type { Route } from './serve';

/**
 * Counts each call against the caller's requests per minute before the route runs, for routes that spend no
 * tokens but do spend the app's upstream quota (model listings read Azure Resource Manager).
 */
export const limitRequests =
  (limiter: CallerLimiter) =>
  (route: Route<CallerCall>): Route<CallerCall> =>
  async (call) => {
    await limiter.admit(call.caller.key);
    return route(call);
  };
