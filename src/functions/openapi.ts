import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import type { GatewayResponse } from '../lib/http';
import type { makeOpenApiHandler } from '../lib/openapi';

let handler: Promise<ReturnType<typeof makeOpenApiHandler>> | undefined;

// NOTE: loaded on the first request for the document, so building its schemas is not part of every cold start.
async function serveOpenApiDocument(
  request: HttpRequest,
  context: InvocationContext,
): Promise<GatewayResponse> {
  handler ??= import('../lib/openapi').then(
    (module) => module.makeOpenApiHandler(),
    (error: unknown) => {
      handler = undefined;
      throw error;
    },
  );
  return (await handler)(request, context);
}

// NOTE: anonymous on purpose: the description of the API holds nothing a caller may not know.
app.http('openApiDocument', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: serveOpenApiDocument,
});
