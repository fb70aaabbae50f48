import type { ModelCatalog } from '../catalog/modelCatalog';
import { jsonResponse } from '../http';
import type { CallerCall } from '../request/requireCaller';
import type { Route } from '../request/serve';

/** GET /api/models: the deployments this app may call, in OpenAI's list shape. */
export function listModels(catalog: ModelCatalog): Route<CallerCall> {
  return async () => ({
    response: jsonResponse(200, { object: 'list', data: await catalog.deployments() }),
  });
}
