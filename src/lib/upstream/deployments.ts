import type { Config } from '../config';
import { ApiError } from '../errors';

/**
 * Which Azure OpenAI deployment a generating request reaches: the one its `model` names, or the default, and
 * only one from AZURE_OPENAI_ALLOWED_DEPLOYMENTS. Anything else is a 404 that does not say what exists. The
 * name goes into the request's summary first, so a refused one shows in the log line too.
 */
export function deploymentResolver(
  openai: Config['openai'],
): (model: string | undefined, summary: { deployment?: string }) => string {
  const allowed = new Set(openai.allowedDeployments);
  return (model, summary) => {
    const deployment = model ?? openai.deployment;
    summary.deployment = deployment;
    if (!allowed.has(deployment)) {
      throw new ApiError(
        404,
        'model_not_found',
        `The model "${deployment}" does not exist or is not available through this API.`,
        { param: 'model' },
      );
    }
    return deployment;
  };
}
