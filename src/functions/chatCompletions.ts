import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';
import { apiRoutes } from '../lib/routes';

// NOTE: authLevel is anonymous because callers authenticate with Entra ID tokens checked in the app,
// not with function keys, which a browser could not keep secret.
app.http('chatCompletions', {
  route: apiRoutes.chatCompletions.route,
  methods: [...apiRoutes.chatCompletions.methods],
  authLevel: 'anonymous',
  handler: gatewayHandler('chatCompletions'),
});
