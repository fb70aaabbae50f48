import { describe, expect, it } from 'vitest';
import { retryAfterMs } from '../../src/lib/upstream/retryAfter';

const headers = (values: Record<string, string>) => new Headers(values);

describe('reading how long an upstream asks us to wait', () => {
  it('prefers retry-after-ms, as Azure OpenAI sends both', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '1500', 'retry-after': '2' }))).toBe(1500);
  });

  it('reads retry-after in seconds', () => {
    expect(retryAfterMs(headers({ 'retry-after': '6' }))).toBe(6000);
  });

  it('reads retry-after as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:20 GMT' }), now)).toBe(20_000);
  });

  it('says nothing when the headers say nothing usable', () => {
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs(headers({}))).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': '-3' }))).toBeUndefined();
  });

  it('reads the Azure SDK pipeline headers too', () => {
    expect(retryAfterMs({ get: (name) => (name === 'retry-after' ? '20' : undefined) })).toBe(20_000);
  });
});
