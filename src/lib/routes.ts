/**
 * Every route under /api with its methods: the function registrations read it, and the catch-all answers
 * from it (which routes exist, which methods a route takes).
 */
export const apiRoutes = {
  chatCompletions: { route: 'chat/completions', methods: ['POST'] },
  responses: { route: 'responses', methods: ['POST'] },
  listModels: { route: 'models', methods: ['GET'] },
  getModel: { route: 'models/{id}', methods: ['GET'] },
  listCatalogModels: { route: 'catalog/models', methods: ['GET'] },
  health: { route: 'health', methods: ['GET'] },
  openApiDocument: { route: 'openapi.json', methods: ['GET'] },
} as const satisfies Record<string, { route: string; methods: readonly ('GET' | 'POST')[] }>;

export type ApiRouteName = keyof typeof apiRoutes;
