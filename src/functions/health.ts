import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';
import { apiRoutes } from '../lib/routes';

app.http('health', {
  route: apiRoutes.health.route,
  methods: [...apiRoutes.health.methods],
  authLevel: 'anonymous',
  handler: gatewayHandler('health'),
});
