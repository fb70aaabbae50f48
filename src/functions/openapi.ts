import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';
import { apiRoutes } from '../lib/routes';

app.http('openApiDocument', {
  route: apiRoutes.openApiDocument.route,
  methods: [...apiRoutes.openApiDocument.methods],
  authLevel: 'anonymous',
  handler: gatewayHandler('openApiDocument'),
});
