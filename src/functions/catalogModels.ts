import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';
import { apiRoutes } from '../lib/routes';

app.http('listCatalogModels', {
  route: apiRoutes.listCatalogModels.route,
  methods: [...apiRoutes.listCatalogModels.methods],
  authLevel: 'anonymous',
  handler: gatewayHandler('listCatalogModels'),
});
