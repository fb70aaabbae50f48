import type { Authenticate, Caller } from '../caller/callerAuth';
import type { Call, Route } from './serve';

/** A call whose caller has been authenticated. */
export type CallerCall = Call & { caller: Caller };

/** Wraps a route so it runs only for an authenticated caller; the caller's hash joins the summary line. */
export const requireCaller =
  (authenticate: Authenticate) =>
  (route: Route<CallerCall>): Route =>
  async (call) => {
    const caller = await authenticate(call.request.headers);
    call.summary.caller = caller.hash;
    return route({ ...call, caller });
  };
