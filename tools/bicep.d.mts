// Types for tools/bicep.mjs, which stays plain JavaScript so `npm run bicep` needs no build step.

export declare const NUGET_BICEP_VERSION: string;
export declare const MINIMUM_BICEP_VERSION: string;
export declare const repoRoot: string;
export declare const defaultCacheDir: string;

export declare class BicepNotFoundError extends Error {
  constructor(attempts: string[]);
  readonly attempts: string[];
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

export interface BicepCli {
  path: string;
  version: string;
  source: 'path' | 'az' | 'nuget';
}

export interface LocateOptions {
  env?: NodeJS.ProcessEnv;
  cacheDir?: string;
  nugetVersion?: string;
  log?: (line: string) => void;
}

export declare function run(
  file: string,
  args: readonly string[],
  options?: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<RunResult>;
export declare function findOnPath(name: string, env?: NodeJS.ProcessEnv): Promise<string | undefined>;
export declare function compareVersions(a: string, b: string): number;
export declare function probeBicep(file: string): Promise<{ version: string } | { problem: string }>;
export declare function nugetRuntimeId(platform?: NodeJS.Platform, arch?: string): string | undefined;
export declare function cachedBicepPath(version: string, runtimeId: string, cacheDir?: string): string;
export declare function restoreFromNuget(options: {
  version?: string;
  cacheDir?: string;
  dotnet: string;
  log?: (line: string) => void;
}): Promise<string>;
export declare function locateBicep(options?: LocateOptions): Promise<BicepCli>;
export declare function getBicep(options?: LocateOptions): Promise<BicepCli>;
export declare function runBicep(
  args: readonly string[],
  options?: LocateOptions & { cwd?: string; timeoutMs?: number },
): Promise<RunResult & { cli: BicepCli }>;
