import { app } from '@azure/functions';

// NOTE: without this the host buffers whole bodies and chat streams would arrive all at once.
app.setup({ enableHttpStream: true });

import './functions/chatCompletions';
import './functions/models';
import './functions/catalogModels';
import './functions/health';
import './functions/openapi';
import './functions/responses';
import './functions/routeNotFound';
