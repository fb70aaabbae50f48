import { broadcastResponseToMainFrame } from '@azure/msal-browser/redirect-bridge';

// NOTE: MSAL v5's redirect bridge: hands the sign-in answer to the page that opened the popup, then closes.
broadcastResponseToMainFrame().catch((error: unknown) => {
  const message = document.getElementById('message');
  if (message)
    message.textContent = `Sign-in could not finish: ${error instanceof Error ? error.message : String(error)}`;
});
