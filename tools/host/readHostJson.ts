import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RpcLogLevel } from './functionsCoreTypes';

export interface HostJsonSettings {
  /** `extensions.http.routePrefix` without surrounding slashes; '' serves functions at the root. Default: 'api'. */
  routePrefix: string;
  /** `logging.logLevel`, categories as written, levels normalised. */
  logLevels: Record<string, RpcLogLevel>;
}

const levelNames: Record<string, RpcLogLevel> = {
  trace: 'trace',
  debug: 'debug',
  information: 'information',
  warning: 'warning',
  error: 'error',
  critical: 'critical',
  none: 'none',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the settings of `host.json` that the local host honours; a missing file means defaults. */
export async function readHostJson(appRoot: string): Promise<HostJsonSettings> {
  const file = path.join(appRoot, 'host.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { routePrefix: 'api', logLevels: {} };
    }
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const root = isRecord(parsed) ? parsed : {};
  const extensions = isRecord(root.extensions) ? root.extensions : {};
  const httpSettings = isRecord(extensions.http) ? extensions.http : {};
  const routePrefix =
    typeof httpSettings.routePrefix === 'string' ? httpSettings.routePrefix.replace(/^\/+|\/+$/g, '') : 'api';
  const logging = isRecord(root.logging) ? root.logging : {};
  const logLevel = isRecord(logging.logLevel) ? logging.logLevel : {};
  const logLevels: Record<string, RpcLogLevel> = {};
  for (const [category, level] of Object.entries(logLevel)) {
    const normalised = typeof level === 'string' ? levelNames[level.toLowerCase()] : undefined;
    if (normalised) {
      logLevels[category] = normalised;
    }
  }
  return { routePrefix, logLevels };
}
