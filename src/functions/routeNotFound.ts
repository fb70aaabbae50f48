import { app } from '@azure/functions';
import { gatewayHandler } from '../lib/gateway';

// NOTE: the Functions host tries routes in the order of its function list, sorted by name ignoring case, and
// takes the first whose template and method match (azure-functions-host FunctionMetadataNameComparer and
// WebScriptHostHttpRoutesManager; Azure/azure-functions-host#9876). This catch-all must therefore sort after
// every other function, hence the name; any other name could shadow the real routes in Azure.
app.http('zzzRouteNotFound', {
  route: '{*path}',
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'],
  authLevel: 'anonymous',
  handler: gatewayHandler('routeNotFound'),
});
