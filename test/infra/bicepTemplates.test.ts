import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, requiredSettingNames, settingNames } from '../../src/lib/config';
import { getBicep, repoRoot, runBicep } from '../../tools/bicep.mjs';
import {
  allResources,
  allTemplates,
  appSettingsOf,
  asObject,
  asString,
  bicepLiteral,
  get,
  isExpression,
  isObject,
  onlyResourceOfType,
  parseSnapshot,
  resourcesOfType,
  type JsonObject,
  type Snapshot,
} from './armJson';

// The real Bicep compiler builds every template, then `bicep snapshot` evaluates main.bicep with several
// parameter sets the way ARM would (modules expanded, conditions applied); only values that exist after
// deployment (principal ids, endpoints) stay as expressions.

const infraDir = join(repoRoot, 'infra');
const mainBicep = join(infraDir, 'main.bicep');
const bicepConfig = join(infraDir, 'bicepconfig.json');

const SUBSCRIPTION = '00000000-0000-0000-0000-0000000000aa';
const TENANT = '00000000-0000-0000-0000-0000000000bb';
const RESOURCE_GROUP = 'rg-gateway';
const LOCATION = 'swedencentral';
const DEVELOPER = '11111111-1111-1111-1111-111111111111';

const OPENAI_USER = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd';
const FORBIDDEN_ROLES = {
  'Cognitive Services User (lists keys)': 'a97b65f3-24c7-4388-baec-2e87135dc908',
  'Cognitive Services Contributor': '25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68',
  'Cognitive Services OpenAI Contributor': 'a001fd3d-188f-4b5d-821b-7da978bf7442',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  // NOTE: the region catalog uses a custom role with its one action instead.
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
};
const STORAGE_BLOB_DATA_OWNER = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b';
const STORAGE_QUEUE_DATA_CONTRIBUTOR = '974c5e8b-45b9-4653-ba55-5f855dd0fb88';
const STORAGE_TABLE_DATA_CONTRIBUTOR = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3';
/** The roles AzureWebJobsStorage__accountName needs: the host reaches blob, queue and table with it. */
const HOST_STORAGE_ROLES = [
  STORAGE_BLOB_DATA_OWNER,
  STORAGE_QUEUE_DATA_CONTRIBUTOR,
  STORAGE_TABLE_DATA_CONTRIBUTOR,
];
/** The API app registration's client id, as a user exports it. */
const API_CLIENT_ID = '55555555-5555-4555-8555-555555555555';
const MONITORING_METRICS_PUBLISHER = '3913510d-42f4-4e42-8a64-420c390055eb';

/** Settings owned by the Functions platform rather than by src/lib/config.ts. */
const PLATFORM_SETTINGS = new Set([
  'AzureWebJobsStorage__accountName',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
]);

/** Stand-ins for the values that exist only once Azure has created the resources. */
const DEPLOYMENT_TIME_SAMPLES: Partial<Record<string, string>> = {
  AZURE_OPENAI_ENDPOINT: 'https://oai-sample.openai.azure.com/',
  AZURE_CLIENT_ID: '22222222-2222-2222-2222-222222222222',
  AZURE_LOCATION: 'swedencentral',
  LIMITS_REDIS_HOST: 'redis-sample.swedencentral.redis.azure.net',
};

type ParamValue = string | number | boolean | readonly string[];

interface Scenario {
  /** Parameters written into a .bicepparam file; undefined uses infra/main.bicepparam itself. */
  params?: Record<string, ParamValue>;
  env?: Record<string, string>;
}

const scenarios = {
  /** infra/main.bicepparam as shipped, with the API client id a user would export. */
  typical: { env: { AUTH_CLIENT_ID: API_CLIENT_ID } },
  systemAssigned: {
    params: {
      environmentName: 'sys',
      identityType: 'SystemAssigned',
      authClientId: API_CLIENT_ID,
      openAiModelVersion: '2026-03-17',
    },
  },
  existingAccount: {
    params: {
      environmentName: 'shared',
      existingOpenAiAccountName: 'shared-oai',
      existingOpenAiResourceGroupName: 'rg-ai',
      openAiDeploymentName: 'chat',
      openAiAllowedDeployments: ['chat', 'chat-large'],
      developerPrincipalId: DEVELOPER,
      developerPrincipalType: 'ServicePrincipal',
      grantModelCatalogRead: true,
      corsAllowedOrigins: ['https://app.contoso.com', ' http://localhost:5173 '],
      authClientId: ' 33333333-3333-3333-3333-33333333AAAA ',
      authAppIdUri: 'https://gateway.contoso.example',
      authRequiredScope: 'Gateway.Chat',
      authRequiredRole: 'Gateway.Invoke',
      limitRequestsPerMinute: 10,
      limitTokensPerMinute: 20000,
      limitMaxTokens: 1024,
      limitConcurrentStreams: 2,
    },
  },
  sharedLimits: {
    params: { environmentName: 'scale', authClientId: API_CLIENT_ID, sharedCallerLimits: true },
  },
  sharedLimitsSystemAssigned: {
    params: {
      environmentName: 'scale',
      identityType: 'SystemAssigned',
      authClientId: API_CLIENT_ID,
      sharedCallerLimits: true,
      limitsStoreSkuName: 'Balanced_B1',
    },
  },
  anonymousConfirmed: {
    params: { environmentName: 'demo', callerAuthMode: 'anonymous', allowAnonymousCallers: true },
  },
  anonymousUnconfirmed: { params: { environmentName: 'demo', callerAuthMode: 'anonymous' } },
  entraWithoutAudience: { params: { environmentName: 'demo' } },
  entraWithUriAsClientId: { params: { environmentName: 'demo', authClientId: `api://${API_CLIENT_ID}` } },
  wildcardOrigin: {
    params: {
      environmentName: 'demo',
      authClientId: API_CLIENT_ID,
      corsAllowedOrigins: ['https://a.example', '*'],
    },
  },
  wildcardSubdomainOrigin: {
    params: {
      environmentName: 'demo',
      authClientId: API_CLIENT_ID,
      corsAllowedOrigins: ['https://*.contoso.com'],
    },
  },
} satisfies Record<string, Scenario>;

type ScenarioName = keyof typeof scenarios;
type SnapshotResult = { ok: true; snapshot: Snapshot } | { ok: false; output: string };

/** The environment main.bicepparam reads, cleared so the machine's own values cannot leak in. */
const PARAM_FILE_ENV = [
  'AZURE_ENV_NAME',
  'AUTH_CLIENT_ID',
  'AUTH_APP_ID_URI',
  'DEVELOPER_PRINCIPAL_TYPE',
  'SHARED_CALLER_LIMITS',
];

function bicepEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !PARAM_FILE_ENV.includes(name));
  return { ...Object.fromEntries(inherited), ...extra };
}

/** Diagnostics in the compiler's default format: "file(line,col) : Warning rule: message". */
function diagnostics(output: string): string[] {
  return output.split('\n').filter((line) => /\)\s*:\s*(Error|Warning|Info)\b/.test(line));
}

/** Runs jobs at most `limit` at a time: each compiler process keeps a core busy. */
async function pooled<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next;
      next += 1;
      const job = jobs[index];
      if (job) results[index] = await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

let workDir: string;
let buildOutput: { code: number | null; stdout: string; stderr: string };
let paramsOutput: { code: number | null; stdout: string; stderr: string };
let bicepFiles: string[];
const compiled = new Map<string, JsonObject>();
const snapshots = new Map<ScenarioName, SnapshotResult>();

async function snapshotScenario(name: ScenarioName, scenario: Scenario): Promise<SnapshotResult> {
  const file = join(workDir, `${name}.bicepparam`);
  const using = `using '${relative(workDir, mainBicep).split('\\').join('/')}'`;
  const body = scenario.params
    ? Object.entries(scenario.params).map(([key, value]) => `param ${key} = ${bicepLiteral(value)}`)
    : (await readFile(join(infraDir, 'main.bicepparam'), 'utf8'))
        .replace(/^using\s+'[^']*'/m, using)
        .split('\n');
  await writeFile(file, scenario.params ? [using, '', ...body, ''].join('\n') : body.join('\n'));
  const result = await runBicep(
    [
      'snapshot',
      file,
      '--subscription-id',
      SUBSCRIPTION,
      '--tenant-id',
      TENANT,
      '--resource-group',
      RESOURCE_GROUP,
      '--location',
      LOCATION,
    ],
    { env: bicepEnv(scenario.env ?? {}) },
  );
  if (result.code !== 0) return { ok: false, output: `${result.stdout}\n${result.stderr}` };
  return {
    ok: true,
    snapshot: parseSnapshot(await readFile(join(workDir, `${name}.snapshot.json`), 'utf8')),
  };
}

beforeAll(async () => {
  // NOTE: on a fresh machine this restores the Bicep CLI from NuGet (about 110 MB) before anything runs.
  await getBicep({ log: (line) => process.stderr.write(`${line}\n`) });
  await mkdir(join(repoRoot, '.cache'), { recursive: true });
  workDir = await mkdtemp(join(repoRoot, '.cache', 'infra-test-'));
  const outDir = join(workDir, 'arm');

  bicepFiles = (await readdir(infraDir, { recursive: true }))
    .filter((file) => file.endsWith('.bicep'))
    .map((file) => file.split('\\').join('/'))
    .sort();

  const jobs: (() => Promise<unknown>)[] = [
    async () => {
      buildOutput = await runBicep(['build', '--pattern', 'infra/**/*.bicep', '--outdir', outDir], {
        cwd: repoRoot,
        env: bicepEnv(),
      });
    },
    async () => {
      paramsOutput = await runBicep(
        [
          'build-params',
          join(infraDir, 'main.bicepparam'),
          '--outfile',
          join(workDir, 'main.parameters.json'),
        ],
        {
          env: bicepEnv({
            AUTH_CLIENT_ID: API_CLIENT_ID,
            DEVELOPER_PRINCIPAL_TYPE: 'ServicePrincipal',
            SHARED_CALLER_LIMITS: 'true',
          }),
        },
      );
    },
    ...(Object.entries(scenarios) as [ScenarioName, Scenario][]).map(([name, scenario]) => async () => {
      snapshots.set(name, await snapshotScenario(name, scenario));
    }),
  ];
  await pooled(jobs, 2);

  for (const file of bicepFiles) {
    const json = join(outDir, file.replace(/\.bicep$/, '.json'));
    compiled.set(
      file,
      asObject(JSON.parse(await readFile(json, 'utf8').catch(() => 'null')), `compiled ${file}`),
    );
  }
}, 15 * 60_000);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function main(): JsonObject {
  const template = compiled.get('main.bicep');
  if (!template) throw new Error('main.bicep was not compiled');
  return template;
}

function snapshotOf(name: ScenarioName): Snapshot {
  const result = snapshots.get(name);
  if (!result) throw new Error(`no snapshot for ${name}`);
  if (!result.ok) throw new Error(`snapshot of ${name} failed:\n${result.output}`);
  expect(result.snapshot.diagnostics).toEqual([]);
  return result.snapshot;
}

function failureOf(name: ScenarioName): string {
  const result = snapshots.get(name);
  if (!result) throw new Error(`no snapshot for ${name}`);
  if (result.ok) throw new Error(`the ${name} parameters deployed, but they must be refused`);
  return result.output;
}

function siteOf(snapshot: Snapshot): JsonObject {
  return onlyResourceOfType(snapshot.predictedResources, 'Microsoft.Web/sites');
}

function roleAssignments(snapshot: Snapshot): JsonObject[] {
  return resourcesOfType(snapshot.predictedResources, 'Microsoft.Authorization/roleAssignments');
}

/** Whether an assignment's id (evaluated, or an extensionResourceId expression) puts it on `scope`. */
function scopedTo(assignment: JsonObject, scope: string): boolean {
  const id = asString(assignment.id, 'role assignment id');
  return (
    id.startsWith(`${scope}/providers/Microsoft.Authorization/roleAssignments/`) ||
    id.startsWith(`[extensionResourceId('${scope}',`)
  );
}

function roleId(assignment: JsonObject): string {
  return asString(get(assignment, 'properties.roleDefinitionId'), 'roleDefinitionId').split('/').pop() ?? '';
}

/** The gateway's settings, with deployment-time expressions replaced by sample values. */
function gatewayEnv(settings: Map<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of settings) {
    if (PLATFORM_SETTINGS.has(name)) continue;
    if (isExpression(value)) {
      const sample = DEPLOYMENT_TIME_SAMPLES[name];
      if (sample === undefined)
        throw new Error(`${name} is only known at deployment (${value}) and has no sample value`);
      env[name] = sample;
    } else {
      env[name] = value;
    }
  }
  return env;
}

const accountId = (resourceGroup: string, name: string): string =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/${resourceGroup}/providers/Microsoft.CognitiveServices/accounts/${name}`;

describe('the Bicep templates', () => {
  it('cover main.bicep and every module', () => {
    expect(bicepFiles).toContain('main.bicep');
    expect(bicepFiles.filter((file) => file.startsWith('modules/')).length).toBeGreaterThanOrEqual(5);
  });

  it('build and lint with zero errors and zero warnings', () => {
    expect(diagnostics(`${buildOutput.stdout}\n${buildOutput.stderr}`)).toEqual([]);
    expect(buildOutput.stderr.trim()).toBe('');
    expect(buildOutput.code).toBe(0);
    for (const file of bicepFiles)
      expect(compiled.get(file)?.$schema, file).toMatch(/[dD]eploymentTemplate\.json#$/);
  });

  it('build main.bicepparam with zero diagnostics, reading the API, the deployer kind and shared limits from the environment', async () => {
    expect(diagnostics(`${paramsOutput.stdout}\n${paramsOutput.stderr}`)).toEqual([]);
    expect(paramsOutput.code).toBe(0);
    const parameters = asObject(
      JSON.parse(await readFile(join(workDir, 'main.parameters.json'), 'utf8')),
      'parameters file',
    );
    expect(get(parameters, 'parameters.authClientId.value')).toBe(API_CLIENT_ID);
    expect(get(parameters, 'parameters.developerPrincipalType.value')).toBe('ServicePrincipal');
    expect(get(parameters, 'parameters.sharedCallerLimits.value')).toBe(true);
  });

  it('turn every linter rule that can run offline into an error', async () => {
    const config = asObject(JSON.parse(await readFile(bicepConfig, 'utf8')), 'bicepconfig.json');
    const rules = asObject(get(config, 'analyzers.core.rules'), 'rules');
    expect(get(config, 'analyzers.core.enabled')).toBe(true);
    const off = Object.entries(rules)
      .filter(([, rule]) => get(rule, 'level') !== 'error')
      .map(([name]) => name)
      .sort();
    // NOTE: these three are off on purpose: recency depends on today's date and on which compiler runs,
    // module versions need a registry, and what-if precision would forbid guid(scope, principalId, role).
    expect(off).toEqual([
      'use-recent-api-versions',
      'use-recent-module-versions',
      'what-if-short-circuiting',
    ]);
    expect(Object.keys(rules).length).toBeGreaterThan(30);
  });

  it('use only local modules: no registry modules, template specs or extensions', async () => {
    for (const file of bicepFiles) {
      const source = await readFile(join(infraDir, file), 'utf8');
      expect(source, file).not.toMatch(/'(br|ts)[:/]/);
      expect(source, file).not.toMatch(/^\s*(extension|provider|import)\s/m);
    }
  });

  it('describe every parameter and every output of every template', () => {
    for (const [file, template] of compiled) {
      for (const section of ['parameters', 'outputs'] as const) {
        for (const [name, declaration] of Object.entries(
          asObject(template[section] ?? {}, `${file} ${section}`),
        )) {
          const description = get(declaration, 'metadata.description');
          expect(
            typeof description === 'string' && description.length > 10,
            `${file} ${section} ${name}`,
          ).toBe(true);
        }
      }
    }
  });

  it('never call listKeys or any other list* function', () => {
    for (const [file, template] of compiled) {
      expect(JSON.stringify(template), file).not.toMatch(/\blist[A-Za-z]*\(/);
    }
  });

  it('output nothing secret', () => {
    for (const template of allTemplates(main())) {
      for (const [name, output] of Object.entries(asObject(template.outputs ?? {}, 'outputs'))) {
        expect(String(get(output, 'type')).toLowerCase(), name).not.toMatch(/^secure/);
        expect(name, name).not.toMatch(/secret|password|key|sas/i);
      }
    }
    for (const template of allTemplates(main())) {
      for (const [name, parameter] of Object.entries(asObject(template.parameters ?? {}, 'parameters'))) {
        expect(String(get(parameter, 'type')).toLowerCase(), name).not.toMatch(/^secure/);
      }
    }
  });

  it('document every main.bicep parameter and output in docs/deployment.md', async () => {
    const guide = await readFile(join(repoRoot, 'docs', 'deployment.md'), 'utf8');
    for (const section of ['parameters', 'outputs'] as const) {
      for (const name of Object.keys(asObject(main()[section], section))) {
        expect(guide, `${section} ${name}`).toContain(`\`${name}\``);
      }
    }
  });

  it('name outputs in UPPER_SNAKE and give the next steps what they need', () => {
    const outputs = Object.keys(asObject(main().outputs, 'outputs'));
    for (const name of outputs) expect(name).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    expect(outputs).toEqual(
      expect.arrayContaining([
        'FUNCTION_APP_NAME',
        'FUNCTION_APP_URL',
        'AZURE_OPENAI_ENDPOINT',
        'AZURE_OPENAI_DEPLOYMENT',
        'AZURE_OPENAI_ACCOUNT_NAME',
        'APP_IDENTITY_CLIENT_ID',
        'AZURE_RESOURCE_GROUP',
        'AUTH_MODE',
        'AUTH_CLIENT_ID',
        'AUTH_APP_ID_URI',
      ]),
    );
    // NOTE: azd copies outputs into its environment; AZURE_CLIENT_ID there would point local credentials at the
    // app's managed identity.
    expect(outputs).not.toContain('AZURE_CLIENT_ID');
  });

  it('grant the Cognitive Services OpenAI User role and never a role that can list keys or write', () => {
    const text = JSON.stringify(main());
    expect(text).toContain(OPENAI_USER);
    for (const [role, id] of Object.entries(FORBIDDEN_ROLES)) expect(text, role).not.toContain(id);
  });

  it('disable local (key) authentication on Azure OpenAI, Application Insights and Log Analytics', () => {
    const resources = allResources(main());
    const account = onlyResourceOfType(resources, 'Microsoft.CognitiveServices/accounts');
    expect(account.kind).toBe('OpenAI');
    expect(get(account, 'properties.disableLocalAuth')).toBe(true);
    expect(get(account, 'properties.customSubDomainName')).toBeTruthy();
    expect(
      get(onlyResourceOfType(resources, 'Microsoft.Insights/components'), 'properties.DisableLocalAuth'),
    ).toBe(true);
    expect(
      get(
        onlyResourceOfType(resources, 'Microsoft.OperationalInsights/workspaces'),
        'properties.features.disableLocalAuth',
      ),
    ).toBe(true);
  });

  it('close storage to shared keys, anonymous blobs and old TLS', () => {
    const storage = onlyResourceOfType(allResources(main()), 'Microsoft.Storage/storageAccounts');
    expect(get(storage, 'properties.allowSharedKeyAccess')).toBe(false);
    expect(get(storage, 'properties.allowBlobPublicAccess')).toBe(false);
    expect(get(storage, 'properties.minimumTlsVersion')).toBe('TLS1_2');
    expect(get(storage, 'properties.supportsHttpsTrafficOnly')).toBe(true);
  });

  it('harden the site: HTTPS only, TLS 1.3, no basic publishing credentials for the scm site', () => {
    const resources = allResources(main());
    const site = onlyResourceOfType(resources, 'Microsoft.Web/sites');
    expect(get(site, 'properties.httpsOnly')).toBe(true);
    expect(get(site, 'properties.siteConfig.minTlsVersion')).toBe('1.3');
    expect(get(site, 'properties.siteConfig.cors.supportCredentials')).toBe(false);
    const policies = resourcesOfType(resources, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(policies.map((policy) => get(policy, 'properties.allow'))).toEqual([false]);
    // NOTE: child names compile to format('{0}/{1}', parameters('name'), 'scm').
    expect(policies.map((policy) => /'(\w+)'\)\]$/.exec(String(policy.name))?.[1])).toEqual(['scm']);
  });

  it('set no site property that Flex Consumption refuses (ARM error 51021)', () => {
    const site = onlyResourceOfType(allResources(main()), 'Microsoft.Web/sites');
    const siteConfig = asObject(get(site, 'properties.siteConfig'), 'siteConfig');
    // NOTE: on Flex the runtime and scale live in functionAppConfig; FTP does not exist.
    for (const refused of [
      'ftpsState',
      'linuxFxVersion',
      'alwaysOn',
      'netFrameworkVersion',
      'use32BitWorkerProcess',
      'functionAppScaleLimit',
      'minimumElasticInstanceCount',
    ]) {
      expect(siteConfig, refused).not.toHaveProperty(refused);
    }
  });

  it('deploy a model that is neither Legacy nor Deprecated, and never pin a version a redeploy would refuse', () => {
    const parameters = asObject(main().parameters, 'parameters');
    // NOTE: Microsoft's Azure OpenAI retirement schedule (2026) lists these chat models as Legacy or Deprecated.
    const retiring = [
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-4.1',
      'gpt-4.1-mini',
      'gpt-4.1-nano',
      'o3-mini',
      'o4-mini',
    ];
    expect(retiring).not.toContain(get(parameters.openAiModelName, 'defaultValue'));
    expect(get(parameters.openAiModelVersion, 'defaultValue')).toBe('');
  });

  it('run Node.js 22 on a Flex Consumption (FC1) plan without worker-runtime app settings', () => {
    const resources = allResources(main());
    const plan = onlyResourceOfType(resources, 'Microsoft.Web/serverfarms');
    expect(get(plan, 'sku.name')).toBe('FC1');
    expect(get(plan, 'sku.tier')).toBe('FlexConsumption');
    const site = onlyResourceOfType(resources, 'Microsoft.Web/sites');
    expect(get(site, 'properties.functionAppConfig.runtime')).toEqual({ name: 'node', version: '22' });
    expect(get(site, 'properties.functionAppConfig.deployment.storage.type')).toBe('blobContainer');
    expect(JSON.stringify(main())).not.toMatch(/FUNCTIONS_WORKER_RUNTIME|WEBSITE_NODE_DEFAULT_VERSION/);
  });

  it("default the per-caller limits and API version to the app's own defaults", () => {
    const defaults = loadConfig({
      AZURE_OPENAI_ENDPOINT: 'https://sample.openai.azure.com',
      AZURE_OPENAI_DEPLOYMENT: 'sample',
      AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
      AZURE_RESOURCE_GROUP: RESOURCE_GROUP,
      AZURE_OPENAI_ACCOUNT_NAME: 'sample',
      AZURE_LOCATION: LOCATION,
      AUTH_MODE: 'anonymous',
    });
    const parameters = asObject(main().parameters, 'parameters');
    const defaultOf = (name: string): unknown => get(parameters[name], 'defaultValue');
    expect(defaultOf('limitRequestsPerMinute')).toBe(defaults.limits.requestsPerMinute);
    expect(defaultOf('limitTokensPerMinute')).toBe(defaults.limits.tokensPerMinute);
    expect(defaultOf('limitMaxTokens')).toBe(defaults.limits.maxTokens);
    expect(defaultOf('limitConcurrentStreams')).toBe(defaults.limits.concurrentStreams);
    expect(defaultOf('limitExpectedCompletionTokens')).toBe(defaults.limits.expectedCompletionTokens);
    expect(defaultOf('openAiApiVersion')).toBe(defaults.openai.apiVersion);
    expect(defaultOf('callerAuthMode')).toBe('entra');
    expect(defaultOf('allowAnonymousCallers')).toBe(false);
    expect(defaultOf('corsAllowedOrigins')).toEqual([]);
    expect(defaultOf('grantModelCatalogRead')).toBe(false);
    expect(defaults.limitsStore).toEqual({ kind: 'memory' });
    expect(defaultOf('sharedCallerLimits')).toBe(false);
  });
});

describe('a deployment with the shipped parameters', () => {
  it('sets every setting the app requires, each under a name the app knows', () => {
    const settings = appSettingsOf(siteOf(snapshotOf('typical')));
    const names = [...settings.keys()];
    expect(names).toEqual(expect.arrayContaining(requiredSettingNames));
    const known = new Set<string>(settingNames);
    expect(names.filter((name) => !PLATFORM_SETTINGS.has(name) && !known.has(name))).toEqual([]);
  });

  it("produces settings the app's settings module accepts", () => {
    const settings = appSettingsOf(siteOf(snapshotOf('typical')));
    const config = loadConfig(gatewayEnv(settings));
    expect(config.credential.kind).toBe('managedidentity');
    expect(config.credential.clientId).toBe(DEPLOYMENT_TIME_SAMPLES.AZURE_CLIENT_ID);
    expect(config.credential.tenantId).toBe(TENANT);
    expect(config.auth).toMatchObject({
      mode: 'entra',
      tenantId: TENANT,
      clientId: API_CLIENT_ID,
      applicationIdUri: `api://${API_CLIENT_ID}`,
      requiredScope: 'access_as_user',
      requiredRole: undefined,
    });
    expect(config.openai).toMatchObject({
      deployment: 'gpt-5.4-mini',
      apiVersion: 'v1',
      allowedDeployments: ['gpt-5.4-mini'],
    });
    expect(config.arm).toMatchObject({
      subscriptionId: SUBSCRIPTION,
      resourceGroup: RESOURCE_GROUP,
      location: LOCATION,
    });
    expect(config.limits).toEqual({
      requestsPerMinute: 60,
      tokensPerMinute: 60000,
      maxTokens: 4096,
      concurrentStreams: 4,
      expectedCompletionTokens: 256,
    });
  });

  it('reads the endpoint and client id from the resources it creates', () => {
    const snapshot = snapshotOf('typical');
    const settings = appSettingsOf(siteOf(snapshot));
    const account = onlyResourceOfType(snapshot.predictedResources, 'Microsoft.CognitiveServices/accounts');
    expect(settings.get('AZURE_OPENAI_ENDPOINT')).toContain(`'${asString(account.id, 'account id')}'`);
    expect(settings.get('AZURE_OPENAI_ENDPOINT')).toMatch(/\.endpoint\]$/);
    expect(settings.get('AZURE_OPENAI_ACCOUNT_NAME')).toBe(account.name);
    const identity = onlyResourceOfType(
      snapshot.predictedResources,
      'Microsoft.ManagedIdentity/userAssignedIdentities',
    );
    expect(settings.get('AZURE_CLIENT_ID')).toBe(
      `[reference('${asString(identity.id, 'identity id')}', '2024-11-30').clientId]`,
    );
    expect(settings.get('AZURE_CLIENT_ID')).toBe(snapshot.outputs.APP_IDENTITY_CLIENT_ID);
  });

  it('connects the host to storage and telemetry with the identity, never a key', () => {
    const snapshot = snapshotOf('typical');
    const settings = appSettingsOf(siteOf(snapshot));
    const storage = onlyResourceOfType(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts');
    expect(settings.get('AzureWebJobsStorage__accountName')).toBe(storage.name);
    expect(settings.get('AzureWebJobsStorage__credential')).toBe('managedidentity');
    expect(settings.get('AzureWebJobsStorage__clientId')).toBe(settings.get('AZURE_CLIENT_ID'));
    expect(settings.has('AzureWebJobsStorage')).toBe(false);
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toMatch(
      /^\[format\('ClientId=\{0\};Authorization=AAD'/,
    );
    for (const [name, value] of settings)
      expect(value, name).not.toMatch(/AccountKey=|SharedAccessSignature|sig=/i);
    const deployment = asObject(
      get(siteOf(snapshot), 'properties.functionAppConfig.deployment.storage'),
      'deployment storage',
    );
    expect(get(deployment, 'authentication.type')).toBe('UserAssignedIdentity');
  });

  it("sends the app's own telemetry to the component the host uses, with the identity and no key", () => {
    const snapshot = snapshotOf('typical');
    const settings = appSettingsOf(siteOf(snapshot));
    const component = onlyResourceOfType(snapshot.predictedResources, 'Microsoft.Insights/components');
    const componentId = asString(component.id, 'component id');
    expect(settings.get('APPLICATIONINSIGHTS_CONNECTION_STRING')).toBe(
      `[reference('${componentId}', '2020-02-02').ConnectionString]`,
    );
    expect(get(component, 'properties.DisableLocalAuth')).toBe(true);
    const publishers = roleAssignments(snapshot).filter(
      (assignment) => roleId(assignment) === MONITORING_METRICS_PUBLISHER,
    );
    expect(publishers.map((assignment) => scopedTo(assignment, componentId))).toEqual([true]);
  });

  it("deploys a workbook on the component that runs the README's operations queries", async () => {
    const snapshot = snapshotOf('typical');
    const component = onlyResourceOfType(snapshot.predictedResources, 'Microsoft.Insights/components');
    const workbook = onlyResourceOfType(snapshot.predictedResources, 'Microsoft.Insights/workbooks');
    expect(get(workbook, 'properties.sourceId')).toBe(component.id);
    const data = JSON.parse(asString(get(workbook, 'properties.serializedData'), 'serializedData')) as {
      items: { type: number; content: { query?: string } }[];
    };
    const queries = data.items.flatMap((item) =>
      item.type === 3 && item.content.query ? [item.content.query] : [],
    );
    expect(queries).toHaveLength(4);
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    for (const query of queries) expect(readme).toContain(query);
    const metrics = [
      'gen_ai.client.token.usage',
      'gateway.requests.throttled',
      'gen_ai.response.time_to_first_chunk',
    ];
    for (const metric of metrics) expect(queries.join('\n')).toContain(metric);
  });

  it("gives the app's identity the OpenAI User role on the account, and the host its data roles", () => {
    const snapshot = snapshotOf('typical');
    const account = onlyResourceOfType(snapshot.predictedResources, 'Microsoft.CognitiveServices/accounts');
    const identity = onlyResourceOfType(
      snapshot.predictedResources,
      'Microsoft.ManagedIdentity/userAssignedIdentities',
    );
    const principal = `[reference('${asString(identity.id, 'identity id')}', '2024-11-30').principalId]`;
    const assignments = roleAssignments(snapshot);
    const onAccount = assignments.filter((assignment) =>
      scopedTo(assignment, asString(account.id, 'account id')),
    );
    const appRole = onAccount.find((assignment) => get(assignment, 'properties.principalId') === principal);
    expect(appRole && roleId(appRole)).toBe(OPENAI_USER);
    expect(get(appRole, 'properties.principalType')).toBe('ServicePrincipal');
    expect(onAccount.map(roleId)).toEqual([OPENAI_USER, OPENAI_USER]);
    const hostRoles = assignments
      .filter((assignment) => get(assignment, 'properties.principalId') === principal)
      .map(roleId);
    expect(hostRoles.sort()).toEqual(
      [MONITORING_METRICS_PUBLISHER, OPENAI_USER, ...HOST_STORAGE_ROLES].sort(),
    );
  });

  it('grants a storage role for every storage service the host settings point it at', () => {
    const snapshot = snapshotOf('typical');
    const settings = appSettingsOf(siteOf(snapshot));
    const storage = onlyResourceOfType(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts');
    const onStorage = roleAssignments(snapshot)
      .filter((assignment) => scopedTo(assignment, asString(storage.id, 'storage id')))
      .map(roleId);
    // NOTE: accountName alone means blob, queue and table; service URIs would name each service used.
    const services = settings.has('AzureWebJobsStorage__accountName')
      ? ['blob', 'queue', 'table']
      : ['blob', 'queue', 'table'].filter((service) =>
          settings.has(`AzureWebJobsStorage__${service}ServiceUri`),
        );
    const roleFor = {
      blob: STORAGE_BLOB_DATA_OWNER,
      queue: STORAGE_QUEUE_DATA_CONTRIBUTOR,
      table: STORAGE_TABLE_DATA_CONTRIBUTOR,
    } as const;
    for (const service of services)
      expect(onStorage, service).toContain(roleFor[service as keyof typeof roleFor]);
  });

  it('requires the delegated scope by default and accepts no app-only caller', () => {
    const settings = appSettingsOf(siteOf(snapshotOf('typical')));
    expect(settings.get('AUTH_REQUIRED_SCOPE')).toBe('access_as_user');
    expect(settings.has('AUTH_REQUIRED_ROLE')).toBe(false);
    expect(settings.get('AUTH_CLIENT_ID')).toBe(API_CLIENT_ID);
    expect(settings.get('AUTH_APP_ID_URI')).toBe(`api://${API_CLIENT_ID}`);
    const parameters = asObject(main().parameters, 'parameters');
    expect(get(parameters.authRequiredScope, 'defaultValue')).toBe('access_as_user');
  });

  it('deploys the default model version and lets Azure keep it current, so a redeploy never names a retired one', () => {
    const deployment = onlyResourceOfType(
      snapshotOf('typical').predictedResources,
      'Microsoft.CognitiveServices/accounts/deployments',
    );
    expect(get(deployment, 'properties.model')).toEqual({ format: 'OpenAI', name: 'gpt-5.4-mini' });
    expect(get(deployment, 'properties.versionUpgradeOption')).toBe('OnceNewDefaultVersionAvailable');
    const pinned = onlyResourceOfType(
      snapshotOf('systemAssigned').predictedResources,
      'Microsoft.CognitiveServices/accounts/deployments',
    );
    expect(get(pinned, 'properties.model.version')).toBe('2026-03-17');
    expect(get(pinned, 'properties.versionUpgradeOption')).toBe('OnceCurrentVersionExpired');
  });

  it('gives the deployer the same role for local development, as a user', () => {
    const snapshot = snapshotOf('typical');
    const developer = roleAssignments(snapshot).find(
      (assignment) => get(assignment, 'properties.principalId') === '[deployer().objectId]',
    );
    expect(developer && roleId(developer)).toBe(OPENAI_USER);
    expect(get(developer, 'properties.principalType')).toBe('User');
  });

  it('allows no browser origin until one is listed, and creates no subscription-wide role', () => {
    const snapshot = snapshotOf('typical');
    expect(get(siteOf(snapshot), 'properties.siteConfig.cors.allowedOrigins')).toEqual([]);
    expect(resourcesOfType(snapshot.predictedResources, 'Microsoft.Authorization/roleDefinitions')).toEqual(
      [],
    );
  });

  it('outputs the values the publish and health-check steps use', () => {
    const { outputs } = snapshotOf('typical');
    expect(outputs.FUNCTION_APP_NAME).toMatch(/^func-api-[a-z0-9]{13}$/);
    expect(outputs.FUNCTION_APP_URL).toMatch(/^\[format\('https:\/\/\{0\}'/);
    expect(outputs.AZURE_OPENAI_DEPLOYMENT).toBe('gpt-5.4-mini');
    expect(outputs.AZURE_RESOURCE_GROUP).toBe(RESOURCE_GROUP);
    expect(outputs.AUTH_MODE).toBe('entra');
    expect(outputs.AUTH_CLIENT_ID).toBe(API_CLIENT_ID);
    expect(outputs.AUTH_APP_ID_URI).toBe(`api://${API_CLIENT_ID}`);
  });
});

describe('a deployment with a system-assigned identity', () => {
  it('creates no user-assigned identity and leaves AZURE_CLIENT_ID and the storage client id unset', () => {
    const snapshot = snapshotOf('systemAssigned');
    expect(
      resourcesOfType(snapshot.predictedResources, 'Microsoft.ManagedIdentity/userAssignedIdentities'),
    ).toEqual([]);
    const site = siteOf(snapshot);
    expect(get(site, 'identity.type')).toBe('SystemAssigned');
    const settings = appSettingsOf(site);
    expect(settings.has('AZURE_CLIENT_ID')).toBe(false);
    expect(settings.has('AzureWebJobsStorage__clientId')).toBe(false);
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe('Authorization=AAD');
    expect(get(site, 'properties.functionAppConfig.deployment.storage.authentication.type')).toBe(
      'SystemAssignedIdentity',
    );
    expect(loadConfig(gatewayEnv(settings)).credential.clientId).toBeUndefined();
  });

  it("grants the OpenAI User role to the site's own identity", () => {
    const snapshot = snapshotOf('systemAssigned');
    const site = siteOf(snapshot);
    const app = roleAssignments(snapshot).filter((assignment) =>
      String(get(assignment, 'properties.principalId')).includes(`'${asString(site.id, 'site id')}'`),
    );
    expect(app.map(roleId).sort()).toEqual(
      [MONITORING_METRICS_PUBLISHER, OPENAI_USER, ...HOST_STORAGE_ROLES].sort(),
    );
  });
});

describe('a deployment against an existing account in another resource group', () => {
  it('creates no account and points the app at the existing one', () => {
    const snapshot = snapshotOf('existingAccount');
    expect(resourcesOfType(snapshot.predictedResources, 'Microsoft.CognitiveServices/accounts')).toEqual([]);
    const settings = appSettingsOf(siteOf(snapshot));
    expect(settings.get('AZURE_OPENAI_ACCOUNT_NAME')).toBe('shared-oai');
    expect(settings.get('AZURE_RESOURCE_GROUP')).toBe('rg-ai');
    expect(settings.get('AZURE_OPENAI_ENDPOINT')).toContain(`'${accountId('rg-ai', 'shared-oai')}'`);
    expect(settings.get('AZURE_LOCATION')).toContain(`'${accountId('rg-ai', 'shared-oai')}'`);
    expect(snapshot.outputs.AZURE_RESOURCE_GROUP).toBe(RESOURCE_GROUP);
    expect(snapshot.outputs.AZURE_OPENAI_RESOURCE_GROUP).toBe('rg-ai');
  });

  it("assigns the OpenAI User role in the account's resource group, for the app and a CI principal", () => {
    const snapshot = snapshotOf('existingAccount');
    const onAccount = roleAssignments(snapshot).filter((assignment) =>
      scopedTo(assignment, accountId('rg-ai', 'shared-oai')),
    );
    expect(onAccount.map(roleId)).toEqual([OPENAI_USER, OPENAI_USER]);
    const developer = onAccount.find((assignment) => get(assignment, 'properties.principalId') === DEVELOPER);
    expect(get(developer, 'properties.principalType')).toBe('ServicePrincipal');
  });

  it('grants the catalog read through a custom role holding one read action, at subscription scope', () => {
    const snapshot = snapshotOf('existingAccount');
    const definition = onlyResourceOfType(
      snapshot.predictedResources,
      'Microsoft.Authorization/roleDefinitions',
    );
    expect(get(definition, 'properties.permissions')).toEqual([
      {
        actions: ['Microsoft.CognitiveServices/locations/models/read'],
        notActions: [],
        dataActions: [],
        notDataActions: [],
      },
    ]);
    expect(get(definition, 'properties.assignableScopes')).toEqual([`/subscriptions/${SUBSCRIPTION}`]);
    const assignment = roleAssignments(snapshot).find(
      (candidate) => get(candidate, 'properties.roleDefinitionId') === definition.id,
    );
    expect(String(assignment?.id)).toMatch(new RegExp(`^\\[subscriptionResourceId\\('${SUBSCRIPTION}'`));
    expect(get(assignment, 'properties.principalType')).toBe('ServicePrincipal');
  });

  it('passes origins, allow-list, scope and limits through to the app', () => {
    const snapshot = snapshotOf('existingAccount');
    const site = siteOf(snapshot);
    expect(get(site, 'properties.siteConfig.cors.allowedOrigins')).toEqual([
      'https://app.contoso.com',
      'http://localhost:5173',
    ]);
    const config = loadConfig(gatewayEnv(appSettingsOf(site)));
    expect(config.openai.deployment).toBe('chat');
    expect(config.openai.allowedDeployments).toEqual(['chat', 'chat-large']);
    expect(config.auth).toMatchObject({
      clientId: '33333333-3333-3333-3333-33333333aaaa',
      applicationIdUri: 'https://gateway.contoso.example',
      requiredScope: 'Gateway.Chat',
      requiredRole: 'Gateway.Invoke',
    });
    expect(config.limits).toEqual({
      requestsPerMinute: 10,
      tokensPerMinute: 20000,
      maxTokens: 1024,
      concurrentStreams: 2,
      expectedCompletionTokens: 256,
    });
  });
});

describe('shared caller limits (sharedCallerLimits)', () => {
  const REDIS_API = '2025-07-01';

  function clusterOf(snapshot: Snapshot): JsonObject {
    return onlyResourceOfType(snapshot.predictedResources, 'Microsoft.Cache/redisEnterprise');
  }

  function accessAssignments(snapshot: Snapshot): JsonObject[] {
    return resourcesOfType(
      snapshot.predictedResources,
      'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments',
    );
  }

  it("creates no Redis and keeps the limits in each instance's memory when it is off", () => {
    const sharing = new Set<ScenarioName>(['sharedLimits', 'sharedLimitsSystemAssigned']);
    const off = [...snapshots].filter(([name, result]) => result.ok && !sharing.has(name));
    expect(off.map(([name]) => name)).toContain('typical');
    for (const [name, result] of off) {
      if (!result.ok) continue;
      const redis = result.snapshot.predictedResources.filter((resource) =>
        String(resource.type).toLowerCase().startsWith('microsoft.cache/'),
      );
      expect(redis, name).toEqual([]);
      const settings = appSettingsOf(siteOf(result.snapshot));
      expect(
        [...settings.keys()].filter((setting) => setting.startsWith('LIMITS_')),
        name,
      ).toEqual([]);
      expect(loadConfig(gatewayEnv(settings)).limitsStore, name).toEqual({ kind: 'memory' });
    }
  });

  it('creates one Azure Managed Redis cluster with TLS 1.2, a replica and the smallest Balanced SKU', () => {
    const cluster = clusterOf(snapshotOf('sharedLimits'));
    expect(cluster.apiVersion).toBe(REDIS_API);
    expect(cluster.location).toBe(LOCATION);
    expect(get(cluster, 'sku.name')).toBe('Balanced_B0');
    expect(get(cluster, 'properties.minimumTlsVersion')).toBe('1.2');
    // NOTE: required from API version 2025-07-01 on; the app has no virtual network to reach a private endpoint.
    expect(get(cluster, 'properties.publicNetworkAccess')).toBe('Enabled');
    expect(get(cluster, 'properties.highAvailability')).toBe('Enabled');
    expect(get(clusterOf(snapshotOf('sharedLimitsSystemAssigned')), 'sku.name')).toBe('Balanced_B1');
  });

  it('serves one TLS-only database named default on port 10000 that refuses access keys', () => {
    const snapshot = snapshotOf('sharedLimits');
    const clusterId = asString(clusterOf(snapshot).id, 'cluster id');
    const database = onlyResourceOfType(
      snapshot.predictedResources,
      'Microsoft.Cache/redisEnterprise/databases',
    );
    expect(database.id).toBe(`${clusterId}/databases/default`);
    expect(database.apiVersion).toBe(REDIS_API);
    expect(get(database, 'properties')).toEqual({
      clientProtocol: 'Encrypted',
      port: 10000,
      accessKeysAuthentication: 'Disabled',
      // NOTE: the app's client is not cluster-aware; the Enterprise policy's proxy serves it.
      clusteringPolicy: 'EnterpriseCluster',
      evictionPolicy: 'NoEviction',
    });
  });

  it("gives the app's user-assigned identity, and no one else, the default access policy on that database", () => {
    const snapshot = snapshotOf('sharedLimits');
    const identity = onlyResourceOfType(
      snapshot.predictedResources,
      'Microsoft.ManagedIdentity/userAssignedIdentities',
    );
    const principal = `[reference('${asString(identity.id, 'identity id')}', '2024-11-30').principalId]`;
    const assignments = accessAssignments(snapshot);
    expect(assignments).toHaveLength(1);
    const [assignment] = assignments;
    expect(assignment?.apiVersion).toBe(REDIS_API);
    expect(get(assignment, 'properties')).toEqual({
      accessPolicyName: 'default',
      user: { objectId: principal },
    });
    const cluster = clusterOf(snapshot);
    expect(String(assignment?.name)).toContain(`'${asString(cluster.name, 'cluster name')}', 'default'`);
  });

  it("gives a system-assigned identity the same access, by the site's own principal id", () => {
    const snapshot = snapshotOf('sharedLimitsSystemAssigned');
    const site = siteOf(snapshot);
    const assignments = accessAssignments(snapshot);
    expect(assignments).toHaveLength(1);
    expect(get(assignments[0], 'properties.accessPolicyName')).toBe('default');
    const objectId = asString(get(assignments[0], 'properties.user.objectId'), 'objectId');
    expect(objectId).toContain(`'${asString(site.id, 'site id')}'`);
    expect(objectId).toMatch(/\.principalId\]$/);
  });

  it('points the app at the cluster with settings the app knows and accepts', () => {
    for (const name of ['sharedLimits', 'sharedLimitsSystemAssigned'] as const) {
      const snapshot = snapshotOf(name);
      const settings = appSettingsOf(siteOf(snapshot));
      const known = new Set<string>(settingNames);
      expect(
        [...settings.keys()].filter((setting) => !PLATFORM_SETTINGS.has(setting) && !known.has(setting)),
        name,
      ).toEqual([]);
      const clusterId = asString(clusterOf(snapshot).id, 'cluster id');
      expect(settings.get('LIMITS_STORE'), name).toBe('redis');
      expect(settings.get('LIMITS_REDIS_HOST'), name).toBe(
        `[reference('${clusterId}', '${REDIS_API}').hostName]`,
      );
      const database = onlyResourceOfType(
        snapshot.predictedResources,
        'Microsoft.Cache/redisEnterprise/databases',
      );
      expect(settings.get('LIMITS_REDIS_PORT'), name).toBe(String(get(database, 'properties.port')));
      expect(loadConfig(gatewayEnv(settings)).limitsStore, name).toEqual({
        kind: 'redis',
        host: DEPLOYMENT_TIME_SAMPLES.LIMITS_REDIS_HOST,
        port: 10000,
        tls: true,
        auth: 'entra',
        failMode: 'open',
        timeoutMs: 250,
      });
    }
  });

  it('never creates a Redis database that accepts access keys or plaintext, in any template', () => {
    const databases = resourcesOfType(allResources(main()), 'Microsoft.Cache/redisEnterprise/databases');
    expect(databases).toHaveLength(1);
    for (const database of databases) {
      expect(get(database, 'properties.accessKeysAuthentication')).toBe('Disabled');
      expect(get(database, 'properties.clientProtocol')).toBe('Encrypted');
    }
    const clusters = resourcesOfType(allResources(main()), 'Microsoft.Cache/redisEnterprise');
    expect(clusters.map((cluster) => get(cluster, 'properties.minimumTlsVersion'))).toEqual(['1.2']);
  });
});

describe('choosing how callers authenticate', () => {
  it('refuses anonymous callers unless allowAnonymousCallers confirms it', () => {
    expect(failureOf('anonymousUnconfirmed')).toMatch(/allowAnonymousCallers/);
  });

  it('runs anonymous mode when both parameters ask for it', () => {
    const snapshot = snapshotOf('anonymousConfirmed');
    const settings = appSettingsOf(siteOf(snapshot));
    expect(settings.get('AUTH_MODE')).toBe('anonymous');
    expect(loadConfig(gatewayEnv(settings)).auth.mode).toBe('anonymous');
    expect(snapshot.outputs.AUTH_MODE).toBe('anonymous');
  });

  it('refuses entra mode without the API client id, which the app could not start with', () => {
    expect(failureOf('entraWithoutAudience')).toMatch(/authClientId is empty/);
  });

  it('refuses an application id URI where the client id belongs, which every v2 token would fail', () => {
    expect(failureOf('entraWithUriAsClientId')).toMatch(/authClientId must be .* a GUID/);
  });
});

describe('CORS', () => {
  it('refuses a wildcard origin', () => {
    expect(failureOf('wildcardOrigin')).toMatch(/corsAllowedOrigins may not contain a wildcard/);
  });

  it('refuses a wildcard anywhere in an origin', () => {
    expect(failureOf('wildcardSubdomainOrigin')).toMatch(/corsAllowedOrigins may not contain a wildcard/);
  });

  it('never allows "*" in any deployment that succeeds', () => {
    for (const [name, result] of snapshots) {
      if (!result.ok) continue;
      const origins = get(siteOf(result.snapshot), 'properties.siteConfig.cors.allowedOrigins');
      expect(Array.isArray(origins), name).toBe(true);
      expect(JSON.stringify(origins), name).not.toContain('*');
    }
  });
});

describe('the helpers this test relies on', () => {
  it('tell an expression from a literal', () => {
    expect(isExpression("[reference('x').endpoint]")).toBe(true);
    expect(isExpression('[[not an expression]')).toBe(false);
    expect(isExpression('plain')).toBe(false);
    expect(isObject([])).toBe(false);
  });
});
