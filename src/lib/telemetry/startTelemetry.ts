import type * as AzureFunctions from '@azure/functions';
import { loadTelemetrySettings } from '../config';
import { chooseCredential, createCredential } from '../credential';
import type { RequestTelemetry } from './requestTelemetry';

/**
 * Starts telemetry when, and only when, APPLICATIONINSIGHTS_CONNECTION_STRING is set. Without it nothing is
 * registered and no OpenTelemetry code is ever loaded. With it, the exporters are loaded from their own
 * chunk during the worker's appStart hook, which the worker awaits before it takes any invocation, so every
 * request finds them in place.
 */

let active: RequestTelemetry | undefined;

/** The running telemetry, if any; the gateway reads it when it is built on the first request. */
export const activeTelemetry = (): RequestTelemetry | undefined => active;

export function startTelemetry(functions: typeof AzureFunctions, env: NodeJS.ProcessEnv = process.env): void {
  let settings: ReturnType<typeof loadTelemetrySettings>;
  try {
    settings = loadTelemetrySettings(env);
  } catch (error) {
    // NOTE: the first request reports invalid settings in full; telemetry just stays off.
    console.warn(`telemetry is off: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  const { connectionString } = settings;
  if (connectionString === undefined) return;

  let shutdown: (() => Promise<void>) | undefined;
  functions.app.hook.appStart(async () => {
    try {
      const { startAzureMonitor } = await import('./azureMonitor');
      const started = startAzureMonitor({
        connectionString,
        credential: createCredential(chooseCredential(settings.credential, env)),
        functions,
        roleName: settings.roleName,
        openaiHost: settings.openaiHost,
      });
      active = started.telemetry;
      shutdown = () => started.shutdown();
    } catch (error) {
      // NOTE: the gateway serves without telemetry rather than not at all.
      console.error(
        `telemetry is off: it failed to start (${error instanceof Error ? error.name : 'error'})`,
      );
    }
  });
  functions.app.hook.appTerminate(async () => {
    await shutdown?.();
  });
}
