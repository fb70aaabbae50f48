import { describe, expect, it } from 'vitest';
import { budgetAwareFetch, upstreamDeadline } from '../../src/lib/upstream/openaiClient';

/** The fetch wrapper marks a 429/5xx as not retryable when the SDK would not wait as long as asked. */

const answer = (headers: Record<string, string>) => () =>
  Promise.resolve(new Response('{}', { status: 429, headers }));

async function shouldRetryHeader(
  headers: Record<string, string>,
  budgetMs = 600_000,
): Promise<string | null> {
  const fetchOnce = budgetAwareFetch(answer(headers));
  const response = await upstreamDeadline.run(Date.now() + budgetMs, () =>
    fetchOnce('http://upstream.test/'),
  );
  return response.headers.get('x-should-retry');
}

describe('budgetAwareFetch', () => {
  it('leaves a wait of up to 60 s to the SDK, which sleeps it as asked', async () => {
    expect(await shouldRetryHeader({ 'retry-after': '60' })).toBeNull();
    expect(await shouldRetryHeader({ 'retry-after-ms': '59000' })).toBeNull();
  });

  it('forbids the retry when the wait is longer than the SDK honours, within the time budget or not', async () => {
    expect(await shouldRetryHeader({ 'retry-after': '61' })).toBe('false');
    expect(await shouldRetryHeader({ 'retry-after-ms': '120000', 'retry-after': '120' })).toBe('false');
    expect(await shouldRetryHeader({ 'retry-after': '30' }, 10_000)).toBe('false');
  });

  it('leaves an answer without a requested wait to the SDK', async () => {
    expect(await shouldRetryHeader({})).toBeNull();
  });
});
