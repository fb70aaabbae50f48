/**
 * The models Azure offers in a region and the deployments of the emulated account: the one table both
 * the ARM control plane and the OpenAI data plane read, so they can never disagree.
 */

export type LifecycleStatus = 'GenerallyAvailable' | 'Preview' | 'Deprecating';

export interface CatalogSku {
  name: 'GlobalStandard' | 'Standard';
  usageName: string;
  capacity: { default: number; maximum: number };
}

export interface CatalogModel {
  format: 'OpenAI';
  name: string;
  version: string;
  isDefaultVersion: boolean;
  lifecycleStatus: LifecycleStatus;
  capabilities: Record<string, string>;
  maxCapacity: number;
  skus: CatalogSku[];
  deprecation: { inference: string; fineTune?: string };
}

export interface Deployment {
  name: string;
  model: { name: string; version: string };
  sku: { name: 'GlobalStandard' | 'Standard'; capacity: number };
  createdAt: string;
}

function chatCapabilities(contextTokens: number, outputTokens: number): Record<string, string> {
  return {
    chatCompletion: 'true',
    jsonObjectResponse: 'true',
    jsonSchemaResponse: 'true',
    maxContextToken: String(contextTokens),
    maxOutputToken: String(outputTokens),
    assistants: 'true',
    responses: 'true',
  };
}

function embeddingCapabilities(dimensions: number): Record<string, string> {
  return {
    embeddings: 'true',
    embeddingsMaxInputs: '2048',
    maxContextToken: '8192',
    dimensions: String(dimensions),
  };
}

function skus(name: string, globalMaximum: number, standardMaximum: number): CatalogSku[] {
  return [
    {
      name: 'GlobalStandard',
      usageName: `OpenAI.GlobalStandard.${name}`,
      capacity: { default: 10, maximum: globalMaximum },
    },
    {
      name: 'Standard',
      usageName: `OpenAI.Standard.${name}`,
      capacity: { default: 10, maximum: standardMaximum },
    },
  ];
}

function chatModel(
  name: string,
  version: string,
  details: {
    isDefaultVersion: boolean;
    lifecycleStatus: LifecycleStatus;
    context: number;
    output: number;
    retires: string;
    fineTune?: string;
    capacity?: number;
  },
): CatalogModel {
  const maxCapacity = details.capacity ?? 30_000;
  return {
    format: 'OpenAI',
    name,
    version,
    isDefaultVersion: details.isDefaultVersion,
    lifecycleStatus: details.lifecycleStatus,
    capabilities: chatCapabilities(details.context, details.output),
    maxCapacity,
    skus: skus(name, maxCapacity, Math.min(maxCapacity, 1_000)),
    deprecation: {
      inference: details.retires,
      ...(details.fineTune ? { fineTune: details.fineTune } : {}),
    },
  };
}

/**
 * The regions whose catalog the emulator serves (every one offers the same models). Source: Microsoft Learn,
 * "Azure AI Studio feature availability across clouds regions" (Azure public regions with Azure OpenAI).
 * Any other location is refused the way ARM refuses a location a resource type is not registered in.
 */
export const catalogRegions: readonly string[] = [
  'australiaeast',
  'brazilsouth',
  'canadacentral',
  'canadaeast',
  'eastus',
  'eastus2',
  'francecentral',
  'germanywestcentral',
  'japaneast',
  'koreacentral',
  'northcentralus',
  'norwayeast',
  'polandcentral',
  'southafricanorth',
  'southcentralus',
  'southindia',
  'swedencentral',
  'switzerlandnorth',
  'uksouth',
  'westeurope',
  'westus',
  'westus3',
];

/** What every region offers. Retirement dates of the older versions lie in the past on purpose. */
export const modelCatalog: readonly CatalogModel[] = [
  chatModel('gpt-4o', '2024-08-06', {
    isDefaultVersion: false,
    lifecycleStatus: 'Deprecating',
    context: 128_000,
    output: 16_384,
    retires: '2026-03-31T00:00:00Z',
    fineTune: '2026-03-31T00:00:00Z',
  }),
  chatModel('gpt-4o', '2024-11-20', {
    isDefaultVersion: true,
    lifecycleStatus: 'GenerallyAvailable',
    context: 128_000,
    output: 16_384,
    retires: '2027-03-01T00:00:00Z',
  }),
  chatModel('gpt-4o-mini', '2024-07-18', {
    isDefaultVersion: true,
    lifecycleStatus: 'GenerallyAvailable',
    context: 128_000,
    output: 16_384,
    retires: '2027-02-27T00:00:00Z',
    fineTune: '2027-02-27T00:00:00Z',
    capacity: 50_000,
  }),
  chatModel('gpt-4.1', '2025-04-14', {
    isDefaultVersion: true,
    lifecycleStatus: 'GenerallyAvailable',
    context: 1_047_576,
    output: 32_768,
    retires: '2027-04-14T00:00:00Z',
    fineTune: '2027-04-14T00:00:00Z',
  }),
  chatModel('gpt-4.1-mini', '2025-04-14', {
    isDefaultVersion: true,
    lifecycleStatus: 'GenerallyAvailable',
    context: 1_047_576,
    output: 32_768,
    retires: '2027-04-14T00:00:00Z',
    fineTune: '2027-04-14T00:00:00Z',
    capacity: 50_000,
  }),
  chatModel('gpt-4.1-nano', '2025-04-14', {
    isDefaultVersion: true,
    lifecycleStatus: 'GenerallyAvailable',
    context: 1_047_576,
    output: 32_768,
    retires: '2027-04-14T00:00:00Z',
    fineTune: '2027-04-14T00:00:00Z',
    capacity: 50_000,
  }),
  chatModel('o4-mini', '2025-04-16', {
    isDefaultVersion: true,
    lifecycleStatus: 'Preview',
    context: 200_000,
    output: 100_000,
    retires: '2027-04-16T00:00:00Z',
    capacity: 10_000,
  }),
  {
    format: 'OpenAI',
    name: 'text-embedding-3-small',
    version: '1',
    isDefaultVersion: true,
    lifecycleStatus: 'GenerallyAvailable',
    capabilities: embeddingCapabilities(1536),
    maxCapacity: 10_000,
    skus: skus('text-embedding-3-small', 10_000, 350),
    deprecation: { inference: '2027-04-30T00:00:00Z' },
  },
  {
    format: 'OpenAI',
    name: 'text-embedding-3-large',
    version: '1',
    isDefaultVersion: true,
    lifecycleStatus: 'GenerallyAvailable',
    capabilities: embeddingCapabilities(3072),
    maxCapacity: 10_000,
    skus: skus('text-embedding-3-large', 10_000, 350),
    deprecation: { inference: '2027-04-30T00:00:00Z' },
  },
];

/** The emulated account's deployments, as `az cognitiveservices account deployment list` would show them. */
export const deployments: readonly Deployment[] = [
  {
    name: 'gpt-4o-mini',
    model: { name: 'gpt-4o-mini', version: '2024-07-18' },
    sku: { name: 'GlobalStandard', capacity: 100 },
    createdAt: '2025-09-15T08:30:00.0000000Z',
  },
  {
    name: 'gpt-4o',
    model: { name: 'gpt-4o', version: '2024-11-20' },
    sku: { name: 'GlobalStandard', capacity: 50 },
    createdAt: '2025-09-15T08:31:00.0000000Z',
  },
  {
    name: 'gpt-4.1-nano',
    model: { name: 'gpt-4.1-nano', version: '2025-04-14' },
    sku: { name: 'GlobalStandard', capacity: 50 },
    createdAt: '2025-10-02T14:05:00.0000000Z',
  },
  {
    name: 'o4-mini',
    model: { name: 'o4-mini', version: '2025-04-16' },
    sku: { name: 'GlobalStandard', capacity: 20 },
    createdAt: '2025-10-02T14:07:00.0000000Z',
  },
  {
    name: 'text-embedding-3-small',
    model: { name: 'text-embedding-3-small', version: '1' },
    sku: { name: 'Standard', capacity: 120 },
    createdAt: '2025-10-02T14:06:00.0000000Z',
  },
];

export const DEFAULT_DEPLOYMENT = 'gpt-4o-mini';

export function findDeployment(name: string): Deployment | undefined {
  return deployments.find((deployment) => deployment.name === name);
}

export function catalogModelOf(deployment: Deployment): CatalogModel {
  const model = modelCatalog.find(
    (entry) => entry.name === deployment.model.name && entry.version === deployment.model.version,
  );
  if (!model) throw new Error(`Deployment ${deployment.name} names a model missing from the catalog`);
  return model;
}

export function supportsChat(model: CatalogModel): boolean {
  return model.capabilities.chatCompletion === 'true';
}

/**
 * Reasoning models (o-series, gpt-5 family) take max_completion_tokens and reasoning_effort and refuse
 * max_tokens and sampling parameters (learn.microsoft.com, "Azure OpenAI reasoning models"). ARM lists no
 * capability for this, so the model name decides, as it does in Microsoft's docs.
 */
export function isReasoningModel(model: CatalogModel): boolean {
  return /^(o\d|gpt-5)/.test(model.name);
}

/** A numeric capability such as maxContextToken, or the fallback when the model does not state it. */
export function numericCapability(model: CatalogModel, name: string, fallback: number): number {
  const value = Number(model.capabilities[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Names of the deployments that can answer chat completions. */
export function chatDeploymentNames(): string[] {
  return deployments.filter((deployment) => supportsChat(catalogModelOf(deployment))).map((d) => d.name);
}
