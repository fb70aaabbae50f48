import Module from 'node:module';
import type { FunctionsCoreApi } from './functionsCoreTypes';

const coreModuleId = '@azure/functions-core';

/**
 * Makes `require('@azure/functions-core')` return `api` from any CommonJS module in this process, the way
 * the Node.js worker provides its built-in module, and returns a function that removes the hook again.
 * It must run before the app's entry point is required: the library looks the module up on first use and
 * falls back to "test mode" (no registrations) when it is missing.
 */
export function installCoreModule(api: FunctionsCoreApi): () => void {
  const prototype = Module.prototype as { require: (this: unknown, id: string) => unknown };
  const originalRequire = prototype.require;
  // NOTE: the same interception the worker uses (a Proxy over Module.prototype.require), so the
  // bundled app resolves the module exactly as it does in Azure.
  const hookedRequire = new Proxy(originalRequire, {
    apply(target, thisArg: unknown, argArray: [string]) {
      if (argArray[0] === coreModuleId) {
        return api;
      }
      return Reflect.apply(target, thisArg, argArray);
    },
  });
  prototype.require = hookedRequire;
  return () => {
    if (prototype.require === hookedRequire) {
      prototype.require = originalRequire;
    }
  };
}
