import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface CorsSettings {
  /** Allowed origins; '*' allows any origin. */
  origins: string[];
  /** Send `Access-Control-Allow-Credentials: true`. Default: false. */
  credentials?: boolean;
}

export interface LocalSettings {
  /** `Values`: app settings that become environment variables. */
  values: Record<string, string>;
  /** `Host.CORS` (comma-separated) and `Host.CORSCredentials`; undefined when no origin is configured. */
  cors: CorsSettings | undefined;
  /** `Host.LocalHttpPort`. */
  localHttpPort: number | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads `local.settings.json` as Core Tools does; undefined when the file does not exist. */
export async function readLocalSettings(appRoot: string): Promise<LocalSettings | undefined> {
  const file = path.join(appRoot, 'local.settings.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
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
  const values: Record<string, string> = {};
  if (isRecord(root.Values)) {
    for (const [name, value] of Object.entries(root.Values)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        values[name] = String(value);
      }
    }
  }
  const host = isRecord(root.Host) ? root.Host : {};
  const origins = typeof host.CORS === 'string' ? parseOrigins(host.CORS) : [];
  const credentials = host.CORSCredentials === true || host.CORSCredentials === 'true';
  const port = typeof host.LocalHttpPort === 'number' ? host.LocalHttpPort : Number(host.LocalHttpPort);
  return {
    values,
    cors: origins.length > 0 ? { origins, credentials } : undefined,
    localHttpPort: Number.isInteger(port) && port > 0 ? port : undefined,
  };
}

/** Splits a comma-separated origin list, as `Host.CORS` and `--cors` take it. */
export function parseOrigins(list: string): string[] {
  return list
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin.length > 0);
}
