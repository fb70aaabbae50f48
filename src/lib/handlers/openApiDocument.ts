import type { Config } from '../config';
import { buildOpenApiDocument } from '../openapi';
import type { Route } from '../request/serve';

/**
 * GET /api/openapi.json, built once per process.
 * NOTE: anonymous on purpose: the description of the API holds nothing a caller may not know.
 */
export function openApiDocument(config: Config): Route {
  let body: string | undefined;
  return () => {
    body ??= JSON.stringify(buildOpenApiDocument(config));
    return Promise.resolve({
      response: {
        status: 200,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'public, max-age=300',
        },
        body,
      },
    });
  };
}
