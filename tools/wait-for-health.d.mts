// Types for tools/wait-for-health.mjs, which stays plain JavaScript so it runs with any Node.js 20+.

export declare const DEFAULT_TIMEOUT_SECONDS: number;
export declare const DEFAULT_INTERVAL_SECONDS: number;
export declare const DEFAULT_TOKEN_ENV: string;

export type WaitResult =
  | { ok: true; attempts: number; elapsedMs: number; body: string }
  | { ok: false; reason: 'timeout' | 'caller_auth'; attempts: number; elapsedMs: number; last: string };

export interface WaitOptions {
  url: string;
  token?: string | undefined;
  timeoutMs?: number;
  intervalMs?: number;
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
  log?: (line: string) => void;
}

export declare function healthUrl(baseUrl: string): string;
export declare function describeBody(text: string): string;
export declare function waitForHealth(options: WaitOptions): Promise<WaitResult>;
export declare function cli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<number>;
