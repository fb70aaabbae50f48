// Reading compiled ARM templates and Bicep deployment snapshots without trusting their shape.

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asObject(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw new Error(`${what} is not an object`);
  return value;
}

export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not an array`);
  return value as unknown[];
}

export function asString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what} is not a string`);
  return value;
}

/** A dotted path into nested objects, e.g. get(site, 'properties.siteConfig.minTlsVersion'). */
export function get(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** A template's resources: an array, or an object keyed by symbolic name (languageVersion 2.0). */
function ownResources(template: JsonObject): JsonObject[] {
  const resources = template.resources;
  const list = Array.isArray(resources)
    ? (resources as unknown[])
    : isObject(resources)
      ? Object.values(resources)
      : [];
  return list.filter(isObject);
}

/** The template and every module template nested in it. */
export function allTemplates(template: JsonObject): JsonObject[] {
  const nested = ownResources(template)
    .filter((resource) => resource.type === 'Microsoft.Resources/deployments')
    .map((resource) => get(resource, 'properties.template'))
    .filter(isObject);
  return [template, ...nested.flatMap(allTemplates)];
}

/** Every resource the template or a nested module template deploys (not the `existing` references). */
export function allResources(template: JsonObject): JsonObject[] {
  return allTemplates(template)
    .flatMap(ownResources)
    .filter((resource) => resource.existing !== true);
}

export function resourcesOfType(resources: readonly JsonObject[], type: string): JsonObject[] {
  return resources.filter(
    (resource) => typeof resource.type === 'string' && resource.type.toLowerCase() === type.toLowerCase(),
  );
}

export function onlyResourceOfType(resources: readonly JsonObject[], type: string): JsonObject {
  const found = resourcesOfType(resources, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as JsonObject;
}

/** An ARM template expression such as "[reference(...)]" (a leading "[[" escapes a literal bracket). */
export function isExpression(value: string): boolean {
  return value.startsWith('[') && !value.startsWith('[[') && value.endsWith(']');
}

/** A Bicep literal for a .bicepparam file. */
export function bicepLiteral(value: string | number | boolean | readonly string[]): string {
  if (typeof value === 'object') return `[${value.map((item) => bicepLiteral(item)).join(', ')}]`;
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return String(value);
}

export interface Snapshot {
  predictedResources: JsonObject[];
  diagnostics: unknown[];
  outputs: JsonObject;
}

export function parseSnapshot(text: string): Snapshot {
  const body = asObject(JSON.parse(text), 'snapshot');
  return {
    predictedResources: asArray(body.predictedResources, 'predictedResources').map((item, index) =>
      asObject(item, `predictedResources[${index}]`),
    ),
    diagnostics: asArray(body.diagnostics ?? [], 'diagnostics'),
    outputs: asObject(body.outputs ?? {}, 'outputs'),
  };
}

/** The name → value map of a predicted Microsoft.Web/sites resource's app settings. */
export function appSettingsOf(site: JsonObject): Map<string, string> {
  const settings = asArray(get(site, 'properties.siteConfig.appSettings'), 'siteConfig.appSettings');
  return new Map(
    settings.map((item, index) => {
      const setting = asObject(item, `appSettings[${index}]`);
      return [
        asString(setting.name, `appSettings[${index}].name`),
        asString(setting.value, `appSettings[${index}].value`),
      ];
    }),
  );
}
