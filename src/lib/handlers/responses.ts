import type { CreateResponse } from '../responses/createResponse';
import type { ResponsesRequest } from '../responses/responsesRequest';
import { readJsonBody } from '../request/requestBody';
import type { CallerCall } from '../request/requireCaller';
import type { Route } from '../request/serve';

export interface ResponsesHandlerDeps {
  parse: (body: unknown) => ResponsesRequest;
  create: CreateResponse;
  maxBodyBytes: number;
}

/** POST /api/responses: validate the body against the stateless rules, then create it upstream (streamed or not). */
export function responses({ parse, create, maxBodyBytes }: ResponsesHandlerDeps): Route<CallerCall> {
  return async ({ request, caller, summary }) => {
    const body = parse(await readJsonBody(request, maxBodyBytes));
    const result = await create(body, caller.key, summary);
    return { response: result, streamDone: result.streamDone };
  };
}
