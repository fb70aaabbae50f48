// Types for tools/deployment-outputs.mjs, which stays plain JavaScript so it runs with any Node.js 20+.

export declare function readOutputs(outputs: unknown): Map<string, unknown>;
export declare function outputValue(outputs: unknown, name: string): unknown;
export declare function toShellExports(outputs: unknown): string;
