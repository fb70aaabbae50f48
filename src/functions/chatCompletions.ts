import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';

// NOTE: authLevel is anonymous because callers authenticate with Entra ID tokens checked in the app,
// not with function keys, which a browser could not keep secret.
app.http('chatCompletions', {
  route: 'chat/completions',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: gatewayHandler('chatCompletions'),
});
