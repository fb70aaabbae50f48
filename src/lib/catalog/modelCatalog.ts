import type {
  AccountModel,
  CognitiveServicesManagementClient,
  Deployment,
  Model,
} from '@azure/arm-cognitiveservices';
import type { Config } from '../config';
import { TtlCache } from './ttlCache';

/**
 * Model listings from the Azure control plane, in the OpenAI list shape enriched with what a model picker
 * needs. Deployments are joined with the account's model table for lifecycle and retirement facts.
 */

export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  model: { name: string | null; version: string | null; format: string | null };
  /** Azure's capability map with its strings typed: flags as booleans, limits (maxContextToken…) as numbers. */
  capabilities: Record<string, boolean | number | string>;
  lifecycle_status: string | null;
  /** When inference on this model version retires (ISO 8601), if Azure has announced it. */
  retirement_date: string | null;
  deprecation: { inference: string | null; fine_tune: string | null };
  sku: { name: string; capacity: number | null } | null;
  skus?: { name: string; capacity_default: number | null; capacity_max: number | null }[];
  is_default_version?: boolean;
}

export interface ModelList {
  object: 'list';
  data: ModelEntry[];
}

const OWNER = 'azure-openai';

function typedValue(value: string): boolean | number | string {
  const lower = value.toLowerCase();
  if (lower === 'true' || lower === 'false') return lower === 'true';
  const number = Number(value);
  return value.trim() !== '' && Number.isFinite(number) ? number : value;
}

const typedCapabilities = (capabilities: Record<string, string> | undefined): ModelEntry['capabilities'] =>
  Object.fromEntries(Object.entries(capabilities ?? {}).map(([name, value]) => [name, typedValue(value)]));

const isoOrNull = (value: string | Date | undefined): string | null => {
  if (value === undefined) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
};

const modelKey = (name: string | undefined, version: string | undefined) => `${name ?? ''}@${version ?? ''}`;

function lifecycleFacts(model: AccountModel | undefined) {
  const inference = isoOrNull(model?.deprecation?.inference);
  return {
    lifecycle_status: model?.lifecycleStatus ?? null,
    retirement_date: inference,
    deprecation: { inference, fine_tune: isoOrNull(model?.deprecation?.fineTune) },
  };
}

export function deploymentEntry(deployment: Deployment, accountModel: AccountModel | undefined): ModelEntry {
  const model = deployment.properties?.model;
  const createdAt = deployment.systemData?.createdAt;
  return {
    id: deployment.name ?? '',
    object: 'model',
    created: createdAt ? Math.floor(new Date(createdAt).getTime() / 1000) : 0,
    owned_by: OWNER,
    model: { name: model?.name ?? null, version: model?.version ?? null, format: model?.format ?? null },
    capabilities: typedCapabilities(deployment.properties?.capabilities ?? accountModel?.capabilities),
    ...lifecycleFacts(accountModel),
    sku: deployment.sku ? { name: deployment.sku.name, capacity: deployment.sku.capacity ?? null } : null,
  };
}

export function catalogEntry(item: Model): ModelEntry {
  const model = item.model;
  return {
    id: modelKey(model?.name, model?.version),
    object: 'model',
    created: 0,
    owned_by: OWNER,
    model: { name: model?.name ?? null, version: model?.version ?? null, format: model?.format ?? null },
    capabilities: typedCapabilities(model?.capabilities),
    ...lifecycleFacts(model),
    sku: null,
    skus: (model?.skus ?? []).map((sku) => ({
      name: sku.name ?? '',
      capacity_default: sku.capacity?.default ?? null,
      capacity_max: sku.capacity?.maximum ?? null,
    })),
    is_default_version: model?.isDefaultVersion ?? false,
  };
}

async function collect<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of pages) items.push(item);
  return items;
}

export interface ModelCatalog {
  /** The account's deployments that the gateway allows, newest facts at most one TTL old. */
  deployments(): Promise<ModelEntry[]>;
  /** The models a region offers. */
  region(location: string): Promise<ModelEntry[]>;
}

export function createModelCatalog(
  config: Config,
  client: () => Promise<CognitiveServicesManagementClient>,
  now: () => number = Date.now,
): ModelCatalog {
  const cache = new TtlCache<ModelEntry[]>(config.modelsCacheTtlMs, now);
  const allowed = new Set(config.openai.allowedDeployments);
  const { resourceGroup, accountName } = config.arm;

  const loadDeployments = async (): Promise<ModelEntry[]> => {
    const arm = await client();
    const [deployments, models] = await Promise.all([
      collect(arm.deployments.list(resourceGroup, accountName)),
      collect(arm.accounts.listModels(resourceGroup, accountName)),
    ]);
    const byKey = new Map(models.map((model) => [modelKey(model.name, model.version), model]));
    return deployments
      .filter((deployment) => deployment.name !== undefined && allowed.has(deployment.name))
      .map((deployment) =>
        deploymentEntry(
          deployment,
          byKey.get(modelKey(deployment.properties?.model?.name, deployment.properties?.model?.version)),
        ),
      )
      .sort((a, b) => a.id.localeCompare(b.id));
  };

  const loadRegion = async (location: string): Promise<ModelEntry[]> => {
    const arm = await client();
    const entries = (await collect(arm.models.list(location))).map(catalogEntry);
    const unique = new Map(entries.map((entry) => [entry.id, entry]));
    return [...unique.values()].sort((a, b) => a.id.localeCompare(b.id));
  };

  return {
    deployments: () => cache.get('deployments', loadDeployments),
    region: (location) => cache.get(`region:${location}`, () => loadRegion(location)),
  };
}
