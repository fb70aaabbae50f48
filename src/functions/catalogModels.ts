import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';

app.http('listCatalogModels', {
  route: 'catalog/models',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: gatewayHandler('listCatalogModels'),
});
