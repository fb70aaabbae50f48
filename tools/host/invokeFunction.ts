import { inspect } from 'node:util';
import type {
  CoreInvocationContext,
  FunctionCallback,
  HookData,
  InvocationState,
  RpcInvocationRequest,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
} from './functionsCoreTypes';
import { defineReadOnly, type RegisteredFunction, type WorkerCore } from './WorkerCore';

export interface InvocationResult {
  response: RpcInvocationResponse;
  /** Whether the function produced a value for an `http` output binding (its HTTP response). */
  producedHttpOutput: boolean;
}

interface ExtraOutputs {
  get(name: string): unknown;
}

function extraOutputsOf(context: unknown): ExtraOutputs | undefined {
  if (typeof context !== 'object' || context === null || !('extraOutputs' in context)) {
    return undefined;
  }
  const { extraOutputs } = context;
  return typeof extraOutputs === 'object' &&
    extraOutputs !== null &&
    'get' in extraOutputs &&
    typeof extraOutputs.get === 'function'
    ? (extraOutputs as ExtraOutputs)
    : undefined;
}

function producesHttpOutput(registration: RegisteredFunction, context: unknown, result: unknown): boolean {
  for (const [name, binding] of Object.entries(registration.metadata.bindings)) {
    if (binding.direction !== 'out' || binding.type?.toLowerCase() !== 'http') {
      continue;
    }
    const value = name === '$return' ? result : extraOutputsOf(context)?.get(name);
    if (value !== undefined && value !== null) {
      return true;
    }
  }
  return false;
}

class LocalInvocationContext implements CoreInvocationContext {
  readonly invocationId: string;
  readonly request: RpcInvocationRequest;
  readonly metadata: RegisteredFunction['metadata'];
  state?: InvocationState | undefined;
  hookData: HookData = {};
  invocationContext: unknown;
  #core: WorkerCore;

  constructor(core: WorkerCore, registration: RegisteredFunction, request: RpcInvocationRequest) {
    this.#core = core;
    this.invocationId = request.invocationId;
    this.request = request;
    this.metadata = registration.metadata;
  }

  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
    this.#core.log(
      { level, category, message, functionName: this.metadata.name, invocationId: this.invocationId },
      { hookData: this.hookData, invocationContext: this.invocationContext },
    );
  }
}

/**
 * Runs one invocation through the programming model the way the worker's invocation handler does:
 * getArguments, preInvocation hooks, the function, postInvocation hooks, getResponse. Rejects with the
 * function's error when it failed (and no postInvocation hook cleared it).
 */
export async function invokeFunction(
  core: WorkerCore,
  registration: RegisteredFunction,
  request: RpcInvocationRequest,
): Promise<InvocationResult> {
  const coreContext = new LocalInvocationContext(core, registration, request);
  const functionName = registration.metadata.name;
  coreContext.log(
    'debug',
    'system',
    `Worker received FunctionInvocationRequest with invocationId ${request.invocationId}`,
  );

  const invocationModel = await core.programmingModel.getInvocationModel(coreContext);
  const { context, inputs: initialInputs } = await invocationModel.getArguments();
  coreContext.invocationContext = context;

  const preContext: { inputs: unknown[]; functionCallback: FunctionCallback } = {
    inputs: initialInputs,
    functionCallback: registration.callback,
  };
  defineReadOnly(preContext, 'hookData', () => coreContext.hookData);
  defineReadOnly(preContext, 'appHookData', () => core.appHookData);
  defineReadOnly(preContext, 'invocationContext', () => context);
  coreContext.state = 'preInvocationHooks';
  try {
    await core.executeHooks('preInvocation', preContext, functionName, request.invocationId);
  } finally {
    coreContext.state = undefined;
  }

  const postContext: { inputs: unknown[]; result: unknown; error: unknown } = {
    inputs: preContext.inputs,
    result: null,
    error: null,
  };
  defineReadOnly(postContext, 'hookData', () => coreContext.hookData);
  defineReadOnly(postContext, 'appHookData', () => core.appHookData);
  defineReadOnly(postContext, 'invocationContext', () => context);

  coreContext.state = 'invocation';
  try {
    postContext.result = await invocationModel.invokeFunction(
      context,
      preContext.inputs,
      preContext.functionCallback,
    );
  } catch (error) {
    postContext.error = error;
  } finally {
    coreContext.state = undefined;
  }

  coreContext.state = 'postInvocationHooks';
  try {
    await core.executeHooks('postInvocation', postContext, functionName, request.invocationId);
  } finally {
    coreContext.state = undefined;
  }

  if (postContext.error !== null && postContext.error !== undefined) {
    throw postContext.error instanceof Error
      ? postContext.error
      : new Error(`The function failed with a non-Error value: ${inspect(postContext.error)}`);
  }

  const producedHttpOutput = producesHttpOutput(registration, context, postContext.result);
  const response = await invocationModel.getResponse(context, postContext.result);
  return { response, producedHttpOutput };
}
