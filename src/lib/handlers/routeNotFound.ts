import { ApiError } from '../errors';
import { apiRoutes } from '../routes';
import type { Route } from '../request/serve';

const segmentsOf = (path: string): string[] => path.split('/').filter((segment) => segment !== '');

/** True when a route template such as `models/{id}` matches the path's segments. */
function matches(template: string, segments: readonly string[]): boolean {
  const parts = segmentsOf(template);
  return (
    parts.length === segments.length &&
    parts.every(
      (part, index) => part.startsWith('{') || part.toLowerCase() === segments[index]?.toLowerCase(),
    )
  );
}

const routeList = Object.values(apiRoutes)
  .map(({ route, methods }) => `${methods.join('|')} /api/${route}`)
  .join(', ');

/**
 * What the host would otherwise answer with an empty 404: an unknown path under /api (404 route_not_found,
 * naming the routes), a known path with the wrong method (405 method_not_allowed with Allow), or a route that
 * would read a stored response (404 response_not_stored: nothing is stored).
 */
export function routeNotFound(): Route {
  return ({ request }) => {
    let path = new URL(request.url).pathname;
    try {
      path = decodeURIComponent(path);
    } catch {
      // NOTE: a malformed escape is still a path that matches no route; it is shown as sent.
    }
    const segments = segmentsOf(path.replace(/^\/api(\/|$)/, ''));
    const shown = `/api/${segments.join('/')}`.slice(0, 120);
    const allow = Object.values(apiRoutes)
      .filter(({ route }) => matches(route, segments))
      .flatMap(({ methods }) => methods);
    if (allow.length > 0) {
      const unique = [...new Set(allow)];
      throw new ApiError(
        405,
        'method_not_allowed',
        `${request.method} is not allowed on ${shown}; use ${unique.join(' or ')}.`,
        { headers: { allow: unique.join(', ') } },
      );
    }
    if (segments[0]?.toLowerCase() === 'responses') {
      throw new ApiError(
        404,
        'response_not_stored',
        'No response is stored here: this gateway is stateless (every caller shares its Azure identity, so a stored response would be readable by other callers). Keep the output you receive and send it back in `input`.',
      );
    }
    throw new ApiError(404, 'route_not_found', `There is no route ${shown}. Routes: ${routeList}.`);
  };
}
