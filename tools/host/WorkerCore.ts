import type {
  Disposable,
  FunctionCallback,
  FunctionMetadata,
  FunctionsCoreApi,
  HookCallback,
  HookData,
  HookName,
  ProgrammingModel,
  RpcFunctionMetadata,
  RpcLogCategory,
  RpcLogLevel,
  WorkerCapabilities,
} from './functionsCoreTypes';

export interface WorkerLogEntry {
  level: RpcLogLevel;
  category: RpcLogCategory;
  message: string;
  functionName?: string | undefined;
  invocationId?: string | undefined;
}

/** Invocation-scoped data that log hooks see for logs written during an invocation. */
export interface InvocationLogScope {
  hookData: HookData;
  invocationContext: unknown;
}

export interface RegisteredFunction {
  metadata: RpcFunctionMetadata;
  callback: FunctionCallback;
}

export interface WorkerCoreOptions {
  /** Receives every worker and function log after log hooks ran. */
  log(entry: WorkerLogEntry): void;
  /** Reported to the app as `hostVersion`. */
  hostVersion?: string;
}

const hookNames: readonly HookName[] = ['preInvocation', 'postInvocation', 'appStart', 'appTerminate', 'log'];

/** The errors the library recognises as coming from the Functions runtime rather than from user code. */
export class AzFuncSystemError extends Error {
  readonly isAzureFunctionsSystemError = true;
  override name = 'AzFuncSystemError';
}

class AzFuncRangeError extends RangeError {
  readonly isAzureFunctionsSystemError = true;
}

class ReadOnlyError extends TypeError {
  readonly isAzureFunctionsSystemError = true;
  constructor(propertyName: string) {
    super(`Cannot assign to read only property '${propertyName}'`);
  }
}

class CoreDisposable implements Disposable {
  #callOnDispose: (() => unknown) | undefined;

  static from(...disposableLikes: { dispose(): unknown }[]): CoreDisposable {
    return new CoreDisposable(() => {
      for (const disposable of disposableLikes) {
        disposable.dispose();
      }
    });
  }

  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }

  dispose(): void {
    const callOnDispose = this.#callOnDispose;
    this.#callOnDispose = undefined;
    callOnDispose?.();
  }
}

/**
 * Defines `name` on `target` as a getter whose setter throws, the way the worker guards its hook contexts.
 */
export function defineReadOnly(target: object, name: string, get: () => unknown): void {
  Object.defineProperty(target, name, {
    enumerable: true,
    get,
    set: () => {
      throw new ReadOnlyError(name);
    },
  });
}

function isHookName(name: string): name is HookName {
  return (hookNames as readonly string[]).includes(name);
}

/**
 * The in-process stand-in for the Node.js worker: it owns the `@azure/functions-core` module object the
 * library talks to, and keeps the registered functions, hooks and programming model for the host.
 */
export class WorkerCore {
  readonly api: FunctionsCoreApi;
  readonly functions = new Map<string, RegisteredFunction>();
  /** Shared across every hook in the app (`context.appHookData`). */
  readonly appHookData: HookData = {};
  /** `hookData` of app-level hooks (appStart, appTerminate). */
  readonly appLevelOnlyHookData: HookData = {};

  #hooks = new Map<HookName, HookCallback[]>(hookNames.map((name) => [name, []]));
  #programmingModel: ProgrammingModel | undefined;
  #hasFinishedStartup = false;
  #writeLog: (entry: WorkerLogEntry) => void;
  #inLogHook = false;

  constructor(options: WorkerCoreOptions) {
    this.#writeLog = (entry) => {
      options.log(entry);
    };
    const hostVersion = options.hostVersion ?? '4.0.0-local';
    this.api = {
      version: '3.12.0-local',
      hostVersion,
      registerFunction: (metadata, callback) => this.#registerFunction(metadata, callback),
      registerHook: (hookName, callback) => this.#registerHook(hookName, callback),
      setProgrammingModel: (programmingModel) => {
        this.#programmingModel = programmingModel;
        this.log({
          level: 'debug',
          category: 'system',
          message: `Setting Node.js programming model to "${programmingModel.name}" version "${programmingModel.version}"`,
        });
      },
      getProgrammingModel: () => this.#programmingModel,
      log: (level, category, message) => {
        this.log({ level, category, message });
      },
      Disposable: CoreDisposable,
    };
  }

  get programmingModel(): ProgrammingModel {
    if (!this.#programmingModel) {
      throw new AzFuncSystemError(
        'The app did not set a programming model; is "@azure/functions" loaded by the entry point?',
      );
    }
    return this.#programmingModel;
  }

  /** Runs the appStart hooks and closes registration, as the worker does once the entry point has loaded. */
  async finishStartup(functionAppDirectory: string): Promise<void> {
    const context = {};
    defineReadOnly(context, 'hookData', () => this.appLevelOnlyHookData);
    defineReadOnly(context, 'appHookData', () => this.appHookData);
    Object.assign(context, { functionAppDirectory });
    await this.executeHooks('appStart', context);
    this.#hasFinishedStartup = true;
  }

  async terminate(): Promise<void> {
    const context = {};
    defineReadOnly(context, 'hookData', () => this.appLevelOnlyHookData);
    defineReadOnly(context, 'appHookData', () => this.appHookData);
    await this.executeHooks('appTerminate', context);
  }

  /** The worker's capabilities after the programming model added its own (HttpUri when streaming is on). */
  async getCapabilities(): Promise<WorkerCapabilities> {
    const capabilities: WorkerCapabilities = {
      RawHttpBodyBytes: 'true',
      RpcHttpTriggerMetadataRemoved: 'true',
      RpcHttpBodyOnly: 'true',
      IgnoreEmptyValuedRpcHttpHeaders: 'true',
      UseNullableValueDictionaryForHttp: 'true',
      WorkerStatus: 'true',
      TypedDataCollection: 'true',
      HandlesWorkerTerminateMessage: 'true',
    };
    const programmingModel = this.#programmingModel;
    if (programmingModel?.getCapabilities) {
      return await programmingModel.getCapabilities(capabilities);
    }
    return capabilities;
  }

  async executeHooks(
    hookName: Exclude<HookName, 'log'>,
    context: object,
    functionName?: string,
    invocationId?: string,
  ): Promise<void> {
    const callbacks = [...(this.#hooks.get(hookName) ?? [])];
    if (callbacks.length === 0) {
      return;
    }
    this.log({
      level: 'debug',
      category: 'system',
      message: `Executing ${callbacks.length} "${hookName}" hooks`,
      functionName,
      invocationId,
    });
    for (const callback of callbacks) {
      await callback(context);
    }
    this.log({
      level: 'debug',
      category: 'system',
      message: `Executed "${hookName}" hooks`,
      functionName,
      invocationId,
    });
  }

  /** Passes a log through the app's log hooks, which may change its level and message, then writes it. */
  log(entry: WorkerLogEntry, scope?: InvocationLogScope): void {
    const callbacks = this.#hooks.get('log') ?? [];
    if (callbacks.length === 0 || this.#inLogHook) {
      this.#writeLog(entry);
      return;
    }
    const context = { level: entry.level, message: entry.message };
    defineReadOnly(context, 'category', () => entry.category);
    defineReadOnly(context, 'hookData', () => scope?.hookData ?? {});
    defineReadOnly(context, 'appHookData', () => this.appHookData);
    defineReadOnly(context, 'invocationContext', () => scope?.invocationContext);
    this.#inLogHook = true;
    try {
      for (const callback of callbacks) {
        callback(context);
      }
    } catch (error) {
      this.#writeLog({
        level: 'warning',
        category: 'system',
        message: `A log hook threw: ${error instanceof Error ? error.message : String(error)}`,
        functionName: entry.functionName,
        invocationId: entry.invocationId,
      });
    } finally {
      this.#inLogHook = false;
    }
    this.#writeLog({ ...entry, level: context.level, message: context.message });
  }

  #registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (this.#hasFinishedStartup) {
      throw new AzFuncSystemError('A function can only be registered during app startup.');
    }
    const name = metadata.name ?? metadata.functionId;
    if (!name) {
      throw new AzFuncSystemError('A function registration is missing its name.');
    }
    const key = name.toLowerCase();
    if (this.functions.has(key)) {
      throw new AzFuncSystemError(
        `A function named "${name}" is already registered; function names must be unique.`,
      );
    }
    // NOTE: the worker hands the library back RPC binding infos, not the full registration options,
    // so `context.options` sees the same fields here as in Azure.
    const bindings: RpcFunctionMetadata['bindings'] = {};
    for (const [bindingName, binding] of Object.entries(metadata.bindings)) {
      bindings[bindingName] = {
        type: binding.type ?? null,
        direction: binding.direction ?? null,
        ...(binding.dataType ? { dataType: binding.dataType } : {}),
        ...(binding.properties ? { properties: binding.properties } : {}),
      };
    }
    this.functions.set(key, {
      metadata: {
        name,
        functionId: metadata.functionId ?? name,
        bindings,
        rawBindings: Object.entries(metadata.bindings).map(([bindingName, binding]) =>
          JSON.stringify({ ...binding, name: bindingName }),
        ),
        scriptFile: 'n/a',
      },
      callback,
    });
    return new CoreDisposable(() => {
      if (this.#hasFinishedStartup) {
        throw new AzFuncSystemError('A function can only be disposed during app startup.');
      }
      this.functions.delete(key);
    });
  }

  #registerHook(hookName: string, callback: HookCallback): Disposable {
    if (!isHookName(hookName)) {
      throw new AzFuncRangeError(`Unrecognized hook "${hookName}"`);
    }
    const callbacks = this.#hooks.get(hookName) ?? [];
    this.#hooks.set(hookName, callbacks);
    callbacks.push(callback);
    return new CoreDisposable(() => {
      const index = callbacks.indexOf(callback);
      if (index > -1) {
        callbacks.splice(index, 1);
      }
    });
  }
}
