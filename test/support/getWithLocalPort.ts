import http from 'node:http';

/** GETs `url` over a connection of its own and says which local port that connection came from. */
export function getWithLocalPort(
  url: string,
  headers: Record<string, string>,
): Promise<{ localPort: number; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let localPort = 0;
    const request = http.get(url, { agent: false, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        resolve({ localPort, status: response.statusCode ?? 0, body });
      });
      response.on('error', reject);
    });
    request.on('socket', (socket) => {
      socket.once('connect', () => {
        localPort = socket.localPort ?? 0;
      });
    });
    request.on('error', reject);
  });
}
