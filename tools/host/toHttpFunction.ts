import { RouteTemplate } from './RouteTemplate';
import type { RegisteredFunction } from './WorkerCore';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

/** An HTTP-triggered function as the host routes it. */
export interface HttpFunction {
  name: string;
  registration: RegisteredFunction;
  /** Name of the trigger binding; the request travels under it in `inputData`. */
  triggerBindingName: string;
  route: RouteTemplate;
  /** Upper-case methods; undefined accepts every method. */
  methods: readonly string[] | undefined;
  authLevel: AuthLevel;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toAuthLevel(value: unknown): AuthLevel {
  const level = typeof value === 'string' ? value.toLowerCase() : 'anonymous';
  if (level === 'anonymous' || level === 'function') {
    return level;
  }
  // NOTE: 'admin', 'system' and anything unknown need the master key: fail closed.
  return 'admin';
}

/**
 * Reads the HTTP trigger out of a registration's raw bindings (the JSON the host itself consumes), or
 * returns undefined for functions with another trigger type.
 */
export function toHttpFunction(registration: RegisteredFunction): HttpFunction | undefined {
  const { name } = registration.metadata;
  for (const raw of registration.metadata.rawBindings) {
    const binding: unknown = JSON.parse(raw);
    if (
      !isRecord(binding) ||
      typeof binding.type !== 'string' ||
      binding.type.toLowerCase() !== 'httptrigger'
    ) {
      continue;
    }
    const methods = Array.isArray(binding.methods)
      ? binding.methods
          .filter((method): method is string => typeof method === 'string')
          .map((method) => method.toUpperCase())
      : [];
    const route = typeof binding.route === 'string' ? binding.route : name;
    return {
      name,
      registration,
      triggerBindingName: typeof binding.name === 'string' ? binding.name : 'req',
      route: new RouteTemplate(route),
      methods: methods.length > 0 ? methods : undefined,
      authLevel: toAuthLevel(binding.authLevel),
    };
  }
  return undefined;
}
