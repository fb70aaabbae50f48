import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';

app.http('listModels', {
  route: 'models',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: gatewayHandler('listModels'),
});

app.http('getModel', {
  route: 'models/{id}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: gatewayHandler('getModel'),
});
