import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';

app.http('openApiDocument', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: gatewayHandler('openApiDocument'),
});
