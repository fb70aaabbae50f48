/**
 * Server-sent events from a fetch body: yields the `data` of each event as soon as its blank line arrives,
 * so the page can paint every chunk the moment the network delivers it.
 */

const EVENT_BOUNDARY = /\r\n\r\n|\n\n|\r\r/;

/** The data of one event block (`data:` lines joined by newlines), or undefined when it has none. */
function dataOf(block: string): string | undefined {
  const lines = block
    .split(/\r\n|\n|\r/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
  return lines.length > 0 ? lines.join('\n') : undefined;
}

export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary = EVENT_BOUNDARY.exec(buffer);
      while (boundary) {
        const data = dataOf(buffer.slice(0, boundary.index));
        buffer = buffer.slice(boundary.index + boundary[0].length);
        if (data !== undefined) yield data;
        boundary = EVENT_BOUNDARY.exec(buffer);
      }
    }
    const last = dataOf(buffer);
    if (last !== undefined) yield last;
  } finally {
    // NOTE: ends the download when the consumer stops early (a `break` or a thrown error).
    await reader.cancel().catch(() => undefined);
  }
}
