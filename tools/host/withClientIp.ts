import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/**
 * The request's headers with `client-ip` set as App Service's front ends set it: the address and port the
 * connection came from, replacing any value the client sent, so the app can key callers by it without a
 * client choosing its own key. That the front end overwrites the header: Azure/app-service-linux-docs,
 * Things_You_Should_Know/headers.md. That the value is "address:port" (e.g. `172.16.0.10:49828`): a capture
 * of an app's request headers in sergiodxa/remix-utils#496 (third party). The bracketed form for IPv6 is a
 * guess; this host listens on 127.0.0.1 only.
 */
export function withClientIp(request: IncomingMessage): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = { ...request.headers };
  const { remoteAddress, remotePort } = request.socket;
  if (remoteAddress === undefined) {
    // NOTE: a socket that has already closed has no address; no header beats one the client chose.
    delete headers['client-ip'];
    return headers;
  }
  const address = remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress;
  headers['client-ip'] = remotePort === undefined ? address : `${address}:${remotePort}`;
  return headers;
}
