import { randomUUID } from 'node:crypto';
import type * as AzureFunctions from '@azure/functions';
import type { AccessToken, GetTokenOptions } from '@azure/identity';
import { context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { startAzureMonitor } from '../../src/lib/telemetry/azureMonitor';

/**
 * The exporter chunk's start-up against the parts of `@azure/functions` it uses (its hooks and setup), with
 * a credential that records what it is asked for. The ingestion endpoint is plain http on a closed port, so
 * nothing leaves the machine: the bearer policy refuses to send a token over http.
 */

type PreInvocation = (context: {
  invocationContext: { traceContext?: { traceParent?: string; traceState?: string } };
  functionHandler: () => unknown;
}) => void;

function fakeFunctions() {
  const setups: unknown[] = [];
  const preInvocation: PreInvocation[] = [];
  const disposable = { dispose: () => undefined };
  const functions = {
    app: {
      setup: (options: unknown) => setups.push(options),
      hook: {
        log: () => disposable,
        preInvocation: (callback: PreInvocation) => {
          preInvocation.push(callback);
          return disposable;
        },
      },
    },
    Disposable: { from: () => disposable },
  } as unknown as typeof AzureFunctions;
  return { functions, setups, preInvocation };
}

describe('the Azure Monitor exporter chunk', () => {
  it('continues the host’s trace in the handler, keeps log lines with the host, and asks Entra for Azure Monitor', async () => {
    const { functions, setups, preInvocation } = fakeFunctions();
    const scopes: string[][] = [];
    const credential = {
      getToken: (requested: string | string[], _options?: GetTokenOptions): Promise<AccessToken> => {
        scopes.push([requested].flat());
        return Promise.resolve({ token: 'not-a-real-token', expiresOnTimestamp: Date.now() + 3_600_000 });
      },
    };
    const started = startAzureMonitor({
      // NOTE: a fresh instrumentation key per run; the endpoint is a closed loopback port, so nothing is sent.
      connectionString: `InstrumentationKey=${randomUUID()};IngestionEndpoint=http://127.0.0.1:9/`,
      credential,
      functions,
      roleName: 'unit-test-app',
      openaiHost: 'unit-test.openai.azure.com',
      exportIntervalMs: 60_000,
    });

    expect(setups.at(-1)).toEqual({ capabilities: { WorkerOpenTelemetryEnabled: false } });
    expect(preInvocation).toHaveLength(1);
    const traceParent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const invocation = {
      invocationContext: { traceContext: { traceParent, traceState: '' } },
      functionHandler: () => trace.getSpanContext(context.active()),
    };
    preInvocation[0]?.(invocation);
    expect(invocation.functionHandler()).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      isRemote: true,
    });

    started.telemetry.record({
      summary: { function: 'health', requestId: 'r-1', status: 200 },
      startedAt: performance.now() - 1,
      endedAt: performance.now(),
    });
    await new Promise((resolve) => setImmediate(resolve));
    await started.shutdown();
    expect(scopes.length).toBeGreaterThan(0);
    expect(new Set(scopes.flat())).toEqual(new Set(['https://monitor.azure.com/.default']));
  });
});
