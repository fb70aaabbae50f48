import type { ModelCatalog } from '../catalog/modelCatalog';
import { locationPattern } from '../config';
import { ApiError } from '../errors';
import { jsonResponse } from '../http';
import type { CallerCall } from '../request/requireCaller';
import type { Route } from '../request/serve';

const capabilityPattern = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** GET /api/catalog/models?location=&capability=: the models a region offers, filtered by capabilities. */
export function listCatalogModels(catalog: ModelCatalog, defaultLocation: string): Route<CallerCall> {
  return async ({ request }) => {
    const location = request.query.get('location') ?? defaultLocation;
    if (!locationPattern.test(location)) {
      throw new ApiError(400, 'invalid_request', 'location must be an Azure region name such as eastus2.', {
        param: 'location',
      });
    }
    const capabilities = (request.query.get('capability') ?? '').split(',').filter((value) => value !== '');
    if (capabilities.some((value) => !capabilityPattern.test(value))) {
      throw new ApiError(
        400,
        'invalid_request',
        'capability must be a capability name such as chatCompletion.',
        {
          param: 'capability',
        },
      );
    }
    const models = await catalog.region(location);
    const data = models.filter((model) =>
      capabilities.every((capability) => model.capabilities[capability] === true),
    );
    return { response: jsonResponse(200, { object: 'list', data }) };
  };
}
