import { app } from '@azure/functions';
import { makeOpenApiHandler } from '../lib/openapi';

// NOTE: anonymous on purpose: the description of the API holds nothing a caller may not know.
app.http('openApiDocument', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: makeOpenApiHandler(),
});
