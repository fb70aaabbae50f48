import * as functions from '@azure/functions';
import { app } from '@azure/functions';
import { startTelemetry } from './lib/telemetry/startTelemetry';

// NOTE: without this the host buffers whole bodies and chat streams would arrive all at once.
app.setup({ enableHttpStream: true });
startTelemetry(functions);

import './functions/chatCompletions';
import './functions/models';
import './functions/catalogModels';
import './functions/health';
import './functions/openapi';
import './functions/responses';
import './functions/routeNotFound';
