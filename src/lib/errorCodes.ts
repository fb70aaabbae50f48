/**
 * Every error code the gateway itself chooses, with its usual status, when it happens and what to do about
 * it. The README's error table and the OpenAPI `code` enum come from this one table (a test checks both),
 * and ApiError accepts no other code except one Azure chose and the gateway passes on (`upstreamCode`).
 */
export const errorCodes = {
  invalid_token: {
    status: 401,
    situation: 'missing or invalid caller token',
    hint: 'Send `Authorization: Bearer <token>` for this API. Without a token the challenge is a bare `WWW-Authenticate: Bearer` (RFC 6750 §3.1); otherwise it carries `error="invalid_token"` and what was wrong.',
  },
  insufficient_scope: {
    status: 403,
    situation: 'the token lacks the required delegated scope',
    hint: 'Request a token with the scope named in `WWW-Authenticate`.',
  },
  missing_role: {
    status: 403,
    situation: 'the token lacks the required app role',
    hint: 'Assign the app role to the calling user or application.',
  },
  app_only_token: {
    status: 403,
    situation: 'an app-only (client-credentials) token while no app role is required',
    hint: "Call with a signed-in user's token, or require an app role (`AUTH_REQUIRED_ROLE`) and grant it to the calling app.",
  },
  invalid_json: {
    status: 400,
    situation: 'body not JSON, empty, too deep or not UTF-8',
    hint: 'Send one JSON object.',
  },
  unsupported_media_type: {
    status: 415,
    situation: 'the body is not declared as `application/json`',
    hint: 'Send `Content-Type: application/json`.',
  },
  request_too_large: {
    status: 413,
    situation: 'body larger than `MAX_BODY_BYTES`',
    hint: 'Shorten the messages.',
  },
  request_timeout: {
    status: 408,
    situation: 'the body did not arrive within `BODY_READ_TIMEOUT_MS`',
    hint: 'Send the whole body at once; check the network path.',
  },
  invalid_request: {
    status: 400,
    situation: 'schema violation: missing or unknown field, wrong type, value out of range',
    hint: '`param` names the field, as a path such as `messages[0].content`.',
  },
  model_not_found: {
    status: 404,
    situation: 'the deployment is unknown or not allowed',
    hint: 'Use an `id` from `GET /api/models`.',
  },
  tokens_exceed_limit: {
    status: 400,
    situation: "one request needs more tokens than the caller's per-minute limit",
    hint: 'Lower `max_tokens` or shorten the messages.',
  },
  caller_rate_limited: {
    status: 429,
    situation: 'a per-caller limit is reached (requests, tokens or open streams)',
    hint: 'Wait for `Retry-After` seconds.',
  },
  content_filter: {
    status: 400,
    situation: 'the prompt was blocked by the Azure content filter',
    hint: 'The categories are in `content_filter_result`; rephrase the prompt.',
  },
  rate_limited: {
    status: 429,
    situation: 'Azure OpenAI or ARM is rate limiting the app',
    hint: 'Wait for `Retry-After` seconds (taken from `retry-after-ms`/`retry-after`).',
  },
  upstream_permission_denied: {
    status: 502,
    situation: "Azure refuses the app's identity (401 `PermissionDenied`, 403)",
    hint: 'Grant the role (see the deployment guide); new assignments take minutes.',
  },
  upstream_deployment_not_found: {
    status: 502,
    situation: 'the deployment does not exist on the account',
    hint: 'Check `AZURE_OPENAI_DEPLOYMENT` and `AZURE_OPENAI_ALLOWED_DEPLOYMENTS`.',
  },
  upstream_not_found: {
    status: 502,
    situation: 'Azure OpenAI does not know the request path',
    hint: 'Check `AZURE_OPENAI_ENDPOINT` and `AZURE_OPENAI_API_VERSION`.',
  },
  upstream_resource_not_found: {
    status: 502,
    situation: 'ARM cannot find the Azure OpenAI account',
    hint: 'Check `AZURE_SUBSCRIPTION_ID`, `AZURE_RESOURCE_GROUP` and `AZURE_OPENAI_ACCOUNT_NAME`.',
  },
  upstream_unreachable: {
    status: 502,
    situation: 'Azure OpenAI or ARM could not be reached',
    hint: 'Check the endpoint and the network path; try again.',
  },
  upstream_error: {
    status: 502,
    situation: 'upstream 5xx after bounded retries, or a stream that broke',
    hint: 'Try again later.',
  },
  upstream_timeout: {
    status: 504,
    situation: 'Azure did not answer within `UPSTREAM_TIMEOUT_MS`, or a stream stalled',
    hint: 'Try again, or ask for fewer tokens.',
  },
  credential_unavailable: {
    status: 503,
    situation: 'the app has no Azure token (no `az login`, no managed identity)',
    hint: "Run `az login` locally; check the Function App's identity in Azure.",
  },
  role_assignment_pending: {
    status: 503,
    situation: 'deep health: the identity lacks its Azure OpenAI role',
    hint: 'Wait a few minutes after deployment, then check the role assignment.',
  },
  configuration_error: {
    status: 500,
    situation: 'invalid app settings',
    hint: 'The message names the settings to fix.',
  },
  internal_error: {
    status: 500,
    situation: 'anything unexpected',
    hint: 'Quote the `x-request-id` when reporting it.',
  },
  client_closed_request: {
    status: 499,
    situation: 'the caller went away before the answer (log only: no one receives it)',
    hint: 'Nothing to do.',
  },
} as const satisfies Record<string, { status: number; situation: string; hint: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** A code Azure OpenAI chose (such as `context_length_exceeded`), passed on to the caller unchanged. */
export type UpstreamCode = string & { readonly upstream: unique symbol };

export const upstreamCode = (code: string): UpstreamCode => code as UpstreamCode;

export const errorCodeNames = Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]];

/** The README's error table, rendered from `errorCodes`. */
export function renderErrorTable(): string {
  const rows = Object.entries(errorCodes).map(
    ([code, { status, situation, hint }]) => `| \`${code}\` | ${status} | ${situation} | ${hint} |`,
  );
  return ['| `code` | status | when | what to do |', '|---|---|---|---|', ...rows].join('\n');
}
