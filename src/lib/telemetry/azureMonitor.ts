import type * as AzureFunctions from '@azure/functions';
import { AzureFunctionsInstrumentation } from '@azure/functions-opentelemetry-instrumentation';
import type { TokenCredential } from '@azure/identity';
import {
  AzureMonitorMetricExporter,
  AzureMonitorTraceExporter,
  type AzureMonitorExporterOptions,
} from '@azure/monitor-opentelemetry-exporter';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { createGatewayTelemetry } from './gatewayTelemetry';
import type { RequestTelemetry } from './requestTelemetry';

/**
 * Exports the gateway's metrics and traces to Application Insights, authenticated with the app's own
 * Microsoft Entra credential (the resource has local authentication off, so the instrumentation key alone
 * is refused). This module and everything it imports form their own chunk, loaded only when a connection
 * string is configured.
 */

export interface AzureMonitorOptions {
  connectionString: string;
  credential: TokenCredential;
  /** The app's own `@azure/functions` module: the one whose hooks the worker runs. */
  functions: typeof AzureFunctions;
  /** `service.name`, which Application Insights shows as cloud_RoleName. */
  roleName: string;
  openaiHost?: string | undefined;
  /** How often metrics are sent. Default: 60 s, Azure Monitor's finest grain. */
  exportIntervalMs?: number;
}

export interface AzureMonitorTelemetry {
  telemetry: RequestTelemetry;
  /** Sends what is buffered and stops the exporters. */
  shutdown(): Promise<void>;
}

const SCOPE = 'keyless-openai-gateway';

export function startAzureMonitor(options: AzureMonitorOptions): AzureMonitorTelemetry {
  const exporterOptions: AzureMonitorExporterOptions = {
    connectionString: options.connectionString,
    credential: options.credential,
  };
  const resource = resourceFromAttributes({ 'service.name': options.roleName });

  // NOTE: every request is traced: per-caller totals read from spans would be wrong under sampling.
  const tracerProvider = new NodeTracerProvider({
    resource,
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(new AzureMonitorTraceExporter(exporterOptions))],
  });
  // NOTE: registers the context manager and the W3C propagator the instrumentation needs to continue the
  // host's trace (its `traceparent`) inside the handler.
  tracerProvider.register();

  const meterProvider = new MeterProvider({
    resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new AzureMonitorMetricExporter(exporterOptions),
        exportIntervalMillis: options.exportIntervalMs ?? 60_000,
      }),
    ],
  });

  // NOTE: the instrumentation normally patches `@azure/functions` when it is require()d by name; the app is
  // bundled, so its copy is patched directly.
  const instrumentation = new AzureFunctionsInstrumentation({ enabled: false });
  instrumentation.setTracerProvider(tracerProvider);
  for (const definition of instrumentation.getModuleDefinitions()) definition.patch?.(options.functions);
  // NOTE: the instrumentation also tells the host that the worker exports its own logs. It does not: log
  // lines keep going through the host, which sends them to Application Insights with the same identity.
  options.functions.app.setup({ capabilities: { WorkerOpenTelemetryEnabled: false } });

  return {
    telemetry: createGatewayTelemetry({
      meter: meterProvider.getMeter(SCOPE),
      tracer: tracerProvider.getTracer(SCOPE),
      serverAddress: options.openaiHost,
    }),
    shutdown: async () => {
      await Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()]);
    },
  };
}
