import type { ModelCatalog } from '../catalog/modelCatalog';
import { deploymentNamePattern } from '../config';
import { ApiError } from '../errors';
import { jsonResponse } from '../http';
import type { CallerCall } from '../request/requireCaller';
import type { Route } from '../request/serve';

/** GET /api/models/{id}: one deployment, or 404 when it does not exist or is not allowed. */
export function getModel(catalog: ModelCatalog): Route<CallerCall> {
  return async ({ request }) => {
    const id = request.params.id ?? '';
    const notFound = new ApiError(
      404,
      'model_not_found',
      `The model "${id.slice(0, 64)}" does not exist or is not available through this API.`,
      { param: 'id' },
    );
    if (!deploymentNamePattern.test(id)) throw notFound;
    const entry = (await catalog.deployments()).find((model) => model.id === id);
    if (!entry) throw notFound;
    return { response: jsonResponse(200, entry) };
  };
}
