import * as z from 'zod';

/**
 * The only reader of `process.env`. Every setting the app understands is declared here once; the
 * README table, `local.settings.json` and the Bicep app settings use exactly these names.
 */

/** Azure OpenAI's v1 API: no monthly version, the plain OpenAI client (docs: "Azure OpenAI API version lifecycle"). */
const DEFAULT_API_VERSION = 'v1';

const isLoopback = (host: string): boolean =>
  host === '127.0.0.1' || host === 'localhost' || host === '[::1]';

/** https everywhere; plain http only for a loopback emulator. */
const serviceUrl = z
  .url()
  .refine((value) => {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname));
  }, 'must be an https URL (http is accepted only for 127.0.0.1/localhost)')
  .transform((value) => value.replace(/\/+$/, ''));

const list = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** Azure resource names: what ARM accepts, and nothing that could change a URL path. */
const resourceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._()-]{0,89}$/, 'must be a valid Azure resource name');
export const deploymentNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const deploymentName = z.string().regex(deploymentNamePattern, 'must be a valid deployment name');
// NOTE: GUIDs are compared in lower case, the form tokens and ARM use; a setting pasted in upper case still matches.
const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/, 'must be a GUID')
  .transform((value) => value.toLowerCase());
/** Entra application id URIs: api://..., https://... or another scheme, never a bare GUID. */
const applicationIdUri = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9+.-]*:\/\/\S+$/,
    "must be the API app registration's application id URI, such as api://<client id>",
  );
const apiClientId = z
  .string()
  .regex(
    /^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/,
    "must be the API app registration's Application (client) ID, a GUID (an api:// URI goes in AUTH_APP_ID_URI)",
  )
  .transform((value) => value.toLowerCase());
export const locationPattern = /^[a-z][a-z0-9]{1,39}$/;
const location = z.string().regex(locationPattern, 'must be an Azure region name such as eastus2');

/**
 * Each setting: its schema, and the default used when it is absent (no default = required).
 * NOTE: kept as one flat table so tests and the Bicep check can enumerate every name.
 */
const settingsSchema = {
  AZURE_OPENAI_ENDPOINT: { schema: serviceUrl, required: true },
  AZURE_OPENAI_DEPLOYMENT: { schema: deploymentName, required: true },
  AZURE_OPENAI_API_VERSION: {
    schema: z
      .string()
      .regex(
        /^(v1|preview|\d{4}-\d{2}-\d{2}(-preview)?)$/,
        'must be v1, preview or a dated version such as 2024-10-21',
      ),
    default: DEFAULT_API_VERSION,
  },
  AZURE_OPENAI_ALLOWED_DEPLOYMENTS: {
    schema: list.pipe(z.array(deploymentName)),
    default: '',
  },
  AZURE_SUBSCRIPTION_ID: { schema: guid, required: true },
  AZURE_RESOURCE_GROUP: { schema: resourceName, required: true },
  AZURE_OPENAI_ACCOUNT_NAME: { schema: resourceName, required: true },
  AZURE_LOCATION: { schema: location, required: true },
  AZURE_CLIENT_ID: { schema: guid.optional(), default: undefined },
  AZURE_TENANT_ID: { schema: guid.optional(), default: undefined },
  AZURE_CREDENTIAL: {
    schema: z.enum(['auto', 'managedidentity', 'azurecli'], {
      error: 'must be auto, managedidentity or azurecli',
    }),
    default: 'auto',
  },
  AZURE_ARM_ENDPOINT: { schema: serviceUrl, default: 'https://management.azure.com' },
  MODELS_CACHE_TTL_SECONDS: { schema: integer(0, 86_400), default: '300' },
  UPSTREAM_TIMEOUT_MS: { schema: integer(1_000, 600_000), default: '120000' },
  UPSTREAM_MAX_RETRIES: { schema: integer(0, 5), default: '2' },
  STREAM_IDLE_TIMEOUT_MS: { schema: integer(1_000, 600_000), default: '30000' },
  MAX_CHOICES: { schema: integer(1, 16), default: '4' },
  MAX_BODY_BYTES: { schema: integer(1_024, 10_000_000), default: '1048576' },
  BODY_READ_TIMEOUT_MS: { schema: integer(1_000, 600_000), default: '30000' },
  MAX_MESSAGES: { schema: integer(1, 10_000), default: '256' },
  MAX_MESSAGE_CHARS: { schema: integer(1, 10_000_000), default: '200000' },
  AUTH_MODE: {
    schema: z.enum(['entra', 'anonymous'], { error: 'must be entra or anonymous' }),
    default: 'entra',
  },
  AUTH_TENANT_ID: { schema: guid.optional(), default: undefined },
  AUTH_CLIENT_ID: { schema: apiClientId.optional(), default: undefined },
  AUTH_APP_ID_URI: { schema: applicationIdUri.optional(), default: undefined },
  AUTH_AUTHORITY_HOST: { schema: serviceUrl, default: 'https://login.microsoftonline.com' },
  AUTH_REQUIRED_SCOPE: {
    schema: z.string().regex(/^\S+$/, 'must be one scope name, such as access_as_user'),
    default: 'access_as_user',
  },
  AUTH_REQUIRED_ROLE: { schema: z.string().optional(), default: undefined },
  AUTH_TRUST_APP_SERVICE_AUTH: { schema: flag, default: 'false' },
  LIMIT_REQUESTS_PER_MINUTE: { schema: integer(0, 1_000_000), default: '60' },
  LIMIT_TOKENS_PER_MINUTE: { schema: integer(0, 100_000_000), default: '60000' },
  LIMIT_MAX_TOKENS: { schema: integer(1, 1_000_000), default: '4096' },
  LIMIT_CONCURRENT_STREAMS: { schema: integer(0, 10_000), default: '4' },
  LIMIT_EXPECTED_COMPLETION_TOKENS: { schema: integer(1, 1_000_000), default: '256' },
  LIMITS_STORE: {
    schema: z.enum(['memory', 'redis'], { error: 'must be memory or redis' }),
    default: 'memory',
  },
  LIMITS_REDIS_HOST: {
    schema: z
      .string()
      .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/, 'must be a host name such as name.region.redis.azure.net')
      .optional(),
    default: undefined,
  },
  // NOTE: Azure Managed Redis listens on 10000 (TLS only); a local redis-server on 6379.
  LIMITS_REDIS_PORT: { schema: integer(1, 65_535), default: '10000' },
  LIMITS_REDIS_TLS: { schema: flag, default: 'true' },
  LIMITS_REDIS_AUTH: {
    schema: z.enum(['entra', 'none'], { error: 'must be entra or none' }),
    default: 'entra',
  },
  LIMITS_REDIS_FAIL_MODE: {
    schema: z.enum(['open', 'closed'], { error: 'must be open or closed' }),
    default: 'open',
  },
  LIMITS_REDIS_TIMEOUT_MS: { schema: integer(10, 10_000), default: '250' },
  RESPONSES_ALLOWED_HOSTED_TOOLS: {
    schema: list.pipe(
      z.array(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must list tool types such as web_search')),
    ),
    default: '',
  },
  APPLICATIONINSIGHTS_CONNECTION_STRING: {
    schema: z
      .string()
      .regex(/(^|;)\s*InstrumentationKey=/i, 'must be an Application Insights connection string')
      .optional(),
    default: undefined,
  },
} as const satisfies Record<string, { schema: z.ZodType; required?: true; default?: string | undefined }>;

export type SettingName = keyof typeof settingsSchema;

/** Every setting name, for documentation checks and the infrastructure test. */
export const settingNames = Object.keys(settingsSchema) as SettingName[];

/** The settings without which the app cannot start. */
export const requiredSettingNames = settingNames.filter(
  (name) => 'required' in settingsSchema[name] && settingsSchema[name].required,
);

type Settings = { [K in SettingName]: z.output<(typeof settingsSchema)[K]['schema']> };

export interface Config {
  openai: {
    endpoint: string;
    deployment: string;
    apiVersion: string;
    allowedDeployments: readonly string[];
  };
  arm: {
    endpoint: string;
    subscriptionId: string;
    resourceGroup: string;
    accountName: string;
    location: string;
  };
  credential: {
    kind: 'auto' | 'managedidentity' | 'azurecli';
    clientId: string | undefined;
    tenantId: string | undefined;
  };
  modelsCacheTtlMs: number;
  upstream: { timeoutMs: number; maxRetries: number; streamIdleTimeoutMs: number };
  request: {
    maxBodyBytes: number;
    bodyReadTimeoutMs: number;
    maxMessages: number;
    maxMessageChars: number;
    maxChoices: number;
  };
  auth: {
    mode: 'entra' | 'anonymous';
    tenantId: string | undefined;
    /** The API app registration's client id: the audience of v2 tokens. */
    clientId: string | undefined;
    /** Its application id URI (default `api://{clientId}`): the audience of v1 tokens. */
    applicationIdUri: string | undefined;
    authorityHost: string;
    requiredScope: string;
    requiredRole: string | undefined;
    trustAppServiceAuth: boolean;
  };
  /** Hosted Responses tool types callers may use (they act with the app's identity); function tools always pass. */
  responses: { allowedHostedTools: readonly string[] };
  limits: {
    requestsPerMinute: number;
    tokensPerMinute: number;
    maxTokens: number;
    concurrentStreams: number;
    /** Completion tokens reserved per choice before a request has run; settled with real usage after. */
    expectedCompletionTokens: number;
  };
  /** Where the limits are counted: this instance's memory, or a Redis every instance shares. */
  limitsStore: { kind: 'memory' } | ({ kind: 'redis' } & RedisStoreSettings);
}

/** The shared limits store (LIMITS_REDIS_*). */
export interface RedisStoreSettings {
  host: string;
  port: number;
  tls: boolean;
  /** entra: the app's credential, a token for https://redis.azure.com; none: only for a loopback Redis. */
  auth: 'entra' | 'none';
  /** open: serve with this instance's own limits while the store is away; closed: answer 503. */
  failMode: 'open' | 'closed';
  /** Longest wait for the store on one request. */
  timeoutMs: number;
}

/** Raised with every invalid setting at once. Names only, never values. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid app settings: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

function parseSettings(
  names: readonly SettingName[],
  env: NodeJS.ProcessEnv,
  problems: string[],
): Partial<Record<SettingName, unknown>> {
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of names) {
    const spec: { schema: z.ZodType; required?: true; default?: string | undefined } = settingsSchema[name];
    const raw = env[name]?.trim();
    const present = raw !== undefined && raw !== '';
    if (!present && spec.required) {
      problems.push(`${name} is required`);
      continue;
    }
    const parsed = spec.schema.safeParse(present ? raw : spec.default);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(`${name} ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
  }
  return values;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const s = parseSettings(settingNames, env, problems) as Settings;
  if (problems.length === 0 && s.AUTH_MODE === 'entra') {
    if (!s.AUTH_TENANT_ID) problems.push('AUTH_TENANT_ID is required when AUTH_MODE is entra');
    if (!s.AUTH_CLIENT_ID) {
      problems.push(
        "AUTH_CLIENT_ID is required when AUTH_MODE is entra (the API app registration's Application (client) ID)",
      );
    }
  }
  if (
    'AZURE_OPENAI_DEPLOYMENT' in s &&
    'AZURE_OPENAI_ALLOWED_DEPLOYMENTS' in s &&
    s.AZURE_OPENAI_ALLOWED_DEPLOYMENTS.length > 0 &&
    !s.AZURE_OPENAI_ALLOWED_DEPLOYMENTS.includes(s.AZURE_OPENAI_DEPLOYMENT)
  ) {
    problems.push(
      'AZURE_OPENAI_ALLOWED_DEPLOYMENTS must include the deployment named by AZURE_OPENAI_DEPLOYMENT',
    );
  }
  if (problems.length === 0 && s.LIMITS_STORE === 'redis') {
    if (!s.LIMITS_REDIS_HOST) problems.push('LIMITS_REDIS_HOST is required when LIMITS_STORE is redis');
    else if (s.LIMITS_REDIS_AUTH === 'none' && !isLoopback(s.LIMITS_REDIS_HOST)) {
      // NOTE: keyless throughout: an unauthenticated store is accepted only on this machine.
      problems.push('LIMITS_REDIS_AUTH may be none only for a Redis on 127.0.0.1 or localhost');
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const allowed = s.AZURE_OPENAI_ALLOWED_DEPLOYMENTS.length > 0 ? s.AZURE_OPENAI_ALLOWED_DEPLOYMENTS : [];
  return {
    openai: {
      endpoint: s.AZURE_OPENAI_ENDPOINT,
      deployment: s.AZURE_OPENAI_DEPLOYMENT,
      apiVersion: s.AZURE_OPENAI_API_VERSION,
      allowedDeployments: allowed.length > 0 ? allowed : [s.AZURE_OPENAI_DEPLOYMENT],
    },
    arm: {
      endpoint: s.AZURE_ARM_ENDPOINT,
      subscriptionId: s.AZURE_SUBSCRIPTION_ID,
      resourceGroup: s.AZURE_RESOURCE_GROUP,
      accountName: s.AZURE_OPENAI_ACCOUNT_NAME,
      location: s.AZURE_LOCATION,
    },
    credential: { kind: s.AZURE_CREDENTIAL, clientId: s.AZURE_CLIENT_ID, tenantId: s.AZURE_TENANT_ID },
    modelsCacheTtlMs: s.MODELS_CACHE_TTL_SECONDS * 1000,
    upstream: {
      timeoutMs: s.UPSTREAM_TIMEOUT_MS,
      maxRetries: s.UPSTREAM_MAX_RETRIES,
      streamIdleTimeoutMs: s.STREAM_IDLE_TIMEOUT_MS,
    },
    request: {
      maxBodyBytes: s.MAX_BODY_BYTES,
      bodyReadTimeoutMs: s.BODY_READ_TIMEOUT_MS,
      maxMessages: s.MAX_MESSAGES,
      maxMessageChars: s.MAX_MESSAGE_CHARS,
      maxChoices: s.MAX_CHOICES,
    },
    auth: {
      mode: s.AUTH_MODE,
      tenantId: s.AUTH_TENANT_ID,
      clientId: s.AUTH_CLIENT_ID,
      applicationIdUri: s.AUTH_APP_ID_URI ?? (s.AUTH_CLIENT_ID ? `api://${s.AUTH_CLIENT_ID}` : undefined),
      authorityHost: s.AUTH_AUTHORITY_HOST,
      requiredScope: s.AUTH_REQUIRED_SCOPE,
      requiredRole: s.AUTH_REQUIRED_ROLE,
      trustAppServiceAuth: s.AUTH_TRUST_APP_SERVICE_AUTH,
    },
    responses: { allowedHostedTools: s.RESPONSES_ALLOWED_HOSTED_TOOLS },
    limits: {
      requestsPerMinute: s.LIMIT_REQUESTS_PER_MINUTE,
      tokensPerMinute: s.LIMIT_TOKENS_PER_MINUTE,
      maxTokens: s.LIMIT_MAX_TOKENS,
      concurrentStreams: s.LIMIT_CONCURRENT_STREAMS,
      expectedCompletionTokens: s.LIMIT_EXPECTED_COMPLETION_TOKENS,
    },
    limitsStore:
      s.LIMITS_STORE === 'redis' && s.LIMITS_REDIS_HOST
        ? {
            kind: 'redis',
            host: s.LIMITS_REDIS_HOST,
            port: s.LIMITS_REDIS_PORT,
            tls: s.LIMITS_REDIS_TLS,
            auth: s.LIMITS_REDIS_AUTH,
            failMode: s.LIMITS_REDIS_FAIL_MODE,
            timeoutMs: s.LIMITS_REDIS_TIMEOUT_MS,
          }
        : { kind: 'memory' },
  };
}

/** What telemetry needs at start-up, read on its own so that it never waits for the gateway's first request. */
export interface TelemetrySettings {
  /** Unset locally and in tests: then nothing is exported and no telemetry code is loaded. */
  connectionString: string | undefined;
  credential: Config['credential'];
  /** The name the platform gives the app, so the worker's telemetry shares the host's cloud_RoleName. */
  roleName: string;
  /** Host name of the Azure OpenAI endpoint (`server.address`), when the endpoint setting is valid. */
  openaiHost: string | undefined;
}

const telemetrySettingNames: readonly SettingName[] = [
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'AZURE_CREDENTIAL',
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
];

const endpointHost = (value: string | undefined): string | undefined => {
  const parsed = serviceUrl.safeParse(value?.trim());
  return parsed.success ? new URL(parsed.data).hostname : undefined;
};

export function loadTelemetrySettings(env: NodeJS.ProcessEnv = process.env): TelemetrySettings {
  const problems: string[] = [];
  const s = parseSettings(telemetrySettingNames, env, problems) as Settings;
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    connectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
    credential: { kind: s.AZURE_CREDENTIAL, clientId: s.AZURE_CLIENT_ID, tenantId: s.AZURE_TENANT_ID },
    roleName: env.WEBSITE_SITE_NAME?.trim() || 'keyless-openai-gateway',
    openaiHost: endpointHost(env.AZURE_OPENAI_ENDPOINT),
  };
}

/** True when the App Service / Functions managed identity protocol is available. */
export function managedIdentityPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.IDENTITY_ENDPOINT && env.IDENTITY_HEADER);
}

/** True when App Service Authentication (Easy Auth) is switched on for this site. */
export function appServiceAuthEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.WEBSITE_AUTH_ENABLED?.toLowerCase() === 'true';
}
