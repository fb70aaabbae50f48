import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';
import { apiRoutes } from '../lib/routes';

app.http('listModels', {
  route: apiRoutes.listModels.route,
  methods: [...apiRoutes.listModels.methods],
  authLevel: 'anonymous',
  handler: gatewayHandler('listModels'),
});

app.http('getModel', {
  route: apiRoutes.getModel.route,
  methods: [...apiRoutes.getModel.methods],
  authLevel: 'anonymous',
  handler: gatewayHandler('getModel'),
});
