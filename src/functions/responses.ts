import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';
import { apiRoutes } from '../lib/routes';

app.http('responses', {
  route: apiRoutes.responses.route,
  methods: [...apiRoutes.responses.methods],
  authLevel: 'anonymous',
  handler: gatewayHandler('responses'),
});
