import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: gatewayHandler('health'),
});
