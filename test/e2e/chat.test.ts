import { randomUUID } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UpstreamRequestRecord } from '../../tools/emulator/index';
import { launchChromium, type Browser } from './browser';
import { startPageStack, type PageStack } from './pageStack';

/**
 * The chat page in real Chromium, served from its own origin, against the app in the local Functions host
 * and the Azure emulator: every request crosses origins, so CORS is exercised for real.
 */

const SCREENSHOT_DIR = join(import.meta.dirname, '../../test-results');

// NOTE: the sampler below runs inside the page; the test project has no DOM types, so the few browser
// globals it touches are declared here, scoped to this module.
interface PageGlobals {
  paintSamples?: number[];
}
declare const window: PageGlobals;
declare const document: { querySelectorAll(selector: string): ArrayLike<{ textContent: string }> };
declare function requestAnimationFrame(callback: () => void): number;

let stack: PageStack;
let browser: Browser;
let page: Page;

const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  stack = await startPageStack();
  cleanups.unshift(() => stack.stop());
  browser = await launchChromium();
  cleanups.unshift(() => browser.close());
}, 90_000);

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

beforeEach(async () => {
  await stack.emulator.admin.reset();
  // NOTE: a new caller per test keeps the app's per-caller limits from carrying over between tests.
  stack.callerToken = await stack.emulator.mintCallerToken({ claims: { oid: randomUUID() } });
  page = await browser.context.newPage();
});

afterEach(async () => {
  await page.close();
});

interface ModelEntry {
  id: string;
  model: { name: string | null; version: string | null };
  capabilities: Record<string, boolean>;
  retirement_date: string | null;
}

async function apiModels(): Promise<ModelEntry[]> {
  const response = await fetch(`${stack.apiBaseUrl}/models`, {
    headers: { authorization: `Bearer ${stack.callerToken}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: ModelEntry[] }).data;
}

/** Opens the page and waits until the model picker has been filled. */
async function openChat(origin = stack.page.origin): Promise<void> {
  await page.goto(`${origin}/`);
  await page.waitForSelector('#model:not([disabled])');
}

const lastAnswer = (scope: Page) => scope.locator('#conversation article.assistant').last();

async function ask(text: string, maxTokens?: number): Promise<void> {
  if (maxTokens !== undefined) await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#prompt', text);
  await page.click('#send');
}

/** The chat requests Azure OpenAI has seen, oldest first, once `ready` holds for them or 3 s have passed. */
async function chatRecords(
  ready: (records: UpstreamRequestRecord[]) => boolean,
): Promise<UpstreamRequestRecord[]> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const records = (await stack.emulator.admin.requests()).filter((record) =>
      record.path.includes('/chat/completions'),
    );
    if (ready(records) || Date.now() > deadline) return records;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits until the page is idle again (the answer finished, failed or was stopped). */
async function settled(): Promise<void> {
  await page.waitForSelector('#composer[data-busy="false"]');
  await page.locator('#conversation article[aria-busy]').waitFor({ state: 'detached' });
}

describe('the chat page in Chromium', () => {
  it('fills the model picker from /api/models, showing model, version and retirement date', async () => {
    const expected = (await apiModels()).filter(
      (entry) => entry.capabilities.chatCompletion === true || Object.keys(entry.capabilities).length === 0,
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.some((entry) => entry.retirement_date !== null)).toBe(true);

    await openChat();
    const optionNodes = await page.locator('#model option').all();
    const options = await Promise.all(
      optionNodes.map(async (node) => ({
        value: await node.getAttribute('value'),
        label: await node.textContent(),
      })),
    );
    // NOTE: the page starts on the gateway's default deployment, which it asks for by sending no model.
    expect(options.map((option) => option.value)).toEqual([
      '(default)',
      ...expected.map((entry) => entry.id),
    ]);
    expect(await page.inputValue('#model')).toBe('(default)');
    expect(await page.textContent('#model-details')).toContain('default deployment');
    for (const entry of expected) {
      const label = options.find((option) => option.value === entry.id)?.label ?? '';
      expect(label).toContain(entry.model.version ?? '');
      // NOTE: a deployment named after its model shows that name once; another deployment names its model.
      if (entry.model.name === entry.id) expect(label.split(entry.id)).toHaveLength(2);
      else expect(label).toContain(`${entry.model.name ?? ''} ${entry.model.version ?? ''}`);
      if (entry.retirement_date) expect(label).toContain(`retires ${entry.retirement_date.slice(0, 10)}`);
    }
    const first = expected[0];
    await page.selectOption('#model', first?.id ?? '');
    const details = await page.textContent('#model-details');
    expect(details).toContain(`version ${first?.model.version ?? ''}`);
    expect(details).toContain(
      first?.retirement_date ? `Retires on ${first.retirement_date.slice(0, 10)}` : 'No retirement',
    );
  });

  it('streams an answer into the page over several paints, not all at once', async () => {
    await stack.emulator.admin.setFault({ kind: 'latency', firstTokenMs: 0, perTokenMs: 80 });
    await openChat();
    // NOTE: samples the answer's length once per animation frame, i.e. once per paint.
    await page.evaluate(() => {
      const samples: number[] = [];
      window.paintSamples = samples;
      const sample = () => {
        const answers = document.querySelectorAll('#conversation article.assistant .content');
        samples.push(answers[answers.length - 1]?.textContent.length ?? 0);
        if (samples.length < 2000) requestAnimationFrame(sample);
      };
      requestAnimationFrame(sample);
    });
    await ask('Tell me something.', 12);
    await settled();

    const answer = (await lastAnswer(page).locator('.content').textContent()) ?? '';
    expect(answer.trim().split(/\s+/)).toHaveLength(12);
    const samples = await page.evaluate(() => window.paintSamples ?? []);
    const painted = [...new Set(samples.filter((length) => length > 0))];
    expect(painted.length).toBeGreaterThanOrEqual(4);
    expect(painted[0]).toBeLessThan(answer.length);
  });

  it('stops the answer when Stop is pressed', async () => {
    await stack.emulator.admin.setFault({ kind: 'latency', firstTokenMs: 0, perTokenMs: 100 });
    await openChat();
    await ask('Write a long story. [[words:400]]', 200);
    await lastAnswer(page).locator('.content').filter({ hasText: /\S/ }).waitFor();
    await page.click('#stop');
    await settled();

    const answer = lastAnswer(page);
    expect(await answer.getAttribute('data-finish')).toBe('stopped');
    expect(await answer.locator('.note').textContent()).toBe('Stopped.');
    const stoppedAt = ((await answer.locator('.content').textContent()) ?? '').length;
    await page.waitForTimeout(500);
    expect(((await answer.locator('.content').textContent()) ?? '').length).toBe(stoppedAt);
    expect(stoppedAt).toBeLessThan(200 * 3);
    expect(await page.isEnabled('#send')).toBe(true);
  });

  it('ends the upstream request within a second of Stop, and sends the next message', async () => {
    // NOTE: 100 ms a token makes the answer last 20 s upstream, far longer than the test waits for it.
    await stack.emulator.admin.setFault({ kind: 'latency', firstTokenMs: 0, perTokenMs: 100 });
    await openChat();
    await ask('Write a long story. [[words:400]]', 200);
    await lastAnswer(page).locator('.content').filter({ hasText: /\S/ }).waitFor();
    expect((await chatRecords(() => true)).map((record) => record.outcome)).toEqual(['open']);

    const clickedAt = Date.now();
    await page.click('#stop');
    const [stopped] = await chatRecords((records) => records[0]?.outcome !== 'open');
    expect(stopped?.outcome).toBe('cancelled');
    expect((stopped?.endedAt ?? Infinity) - clickedAt).toBeLessThan(1000);
    await settled();
    expect(await lastAnswer(page).getAttribute('data-finish')).toBe('stopped');

    await stack.emulator.admin.clearFaults();
    await ask('And now in five words.', 5);
    await settled();
    const next = lastAnswer(page);
    expect(await next.getAttribute('data-finish')).toMatch(/^(stop|length)$/);
    expect((await next.locator('.content').textContent())?.trim()).not.toBe('');
    expect(await page.isHidden('#alert')).toBe(true);
    const records = await chatRecords((all) => all[1]?.outcome === 'completed');
    expect(records.map((record) => record.outcome)).toEqual(['cancelled', 'completed']);
  });

  it('shows how long to wait when Azure OpenAI answers 429', async () => {
    await stack.emulator.admin.setFault({
      kind: 'status',
      target: 'openai',
      status: 429,
      count: 1,
      retryAfterSeconds: 150,
    });
    await openChat();
    await ask('Hello?');
    await page.waitForSelector('#alert[data-kind="rate_limited"]');

    expect(await page.textContent('#alert')).toContain('Try again in 150 seconds.');
    expect(await page.inputValue('#prompt')).toBe('Hello?');
    expect(await page.locator('#conversation article.assistant').count()).toBe(0);
  });

  it('shows a prompt the content filter blocked as a content-filter refusal', async () => {
    await openChat();
    await ask('[[block-prompt]] Say something hateful.');
    await page.waitForSelector('#alert[data-kind="content_filter"]');

    expect(await page.textContent('#alert')).toMatch(/^Blocked by the content filter \(hate: high\)\./);
    expect(await page.locator('#conversation article.assistant').count()).toBe(0);
  });

  it('shows an answer the content filter cut short as such', async () => {
    await openChat();
    await ask('[[block-completion]] Go on.');
    await settled();

    const answer = lastAnswer(page);
    expect(await answer.getAttribute('data-finish')).toBe('content_filter');
    expect(await answer.locator('.note').textContent()).toContain('withheld by the content filter');
    expect(await page.getAttribute('#alert', 'data-kind')).toBe('content_filter');
  });

  it('says so when the token has expired (401) or lacks the API scope (403)', async () => {
    stack.callerToken = await stack.emulator.mintCallerToken({ expiresInSeconds: -3600 });
    await page.goto(`${stack.page.origin}/`);
    await page.waitForSelector('#alert[data-kind="unauthenticated"]');
    expect(await page.textContent('#alert')).toContain('The access token has expired.');

    stack.callerToken = await stack.emulator.mintCallerToken({ claims: { scp: 'User.Read' } });
    await page.reload();
    await page.waitForSelector('#alert[data-kind="forbidden"]');
    expect(await page.textContent('#alert')).toContain('not allowed to use this API');
    expect(await page.textContent('#alert')).toContain('access_as_user');
  });

  it('passes the CORS preflight from its own origin and is refused from an unlisted one', async () => {
    const preflight = (origin: string) =>
      fetch(`${stack.apiBaseUrl}/chat/completions`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
    const allowed = await preflight(stack.page.origin);
    expect(allowed.status).toBeLessThan(300);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(stack.page.origin);
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const refused = await preflight(stack.stranger.origin);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();

    const callFromPage = (token: string) =>
      page.evaluate(
        async ({ api, bearer }) => {
          try {
            const response = await fetch(`${api}/chat/completions`, {
              method: 'POST',
              headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
              body: JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }),
            });
            return { status: response.status, requestIdVisible: response.headers.has('x-request-id') };
          } catch (error) {
            return { error: String(error) };
          }
        },
        { api: stack.apiBaseUrl, bearer: token },
      );

    await openChat(stack.page.origin);
    expect(await callFromPage(stack.callerToken)).toEqual({ status: 200, requestIdVisible: true });

    await page.goto(`${stack.stranger.origin}/`);
    await page.waitForSelector('#alert[data-kind="unreachable"]');
    expect(await page.textContent('#alert')).toContain(
      `allows this page’s origin (${stack.stranger.origin})`,
    );
    expect(await callFromPage(stack.callerToken)).toEqual({ error: 'TypeError: Failed to fetch' });
  });

  it('keeps a finished conversation on screen (screenshot for reviewers)', async () => {
    await openChat();
    await ask('Hello! What can you do?');
    await settled();
    await ask('And in one sentence?');
    await settled();

    expect(await page.locator('#conversation article.user').count()).toBe(2);
    expect(await page.locator('#conversation article.assistant').count()).toBe(2);
    expect(await page.isHidden('#alert')).toBe(true);
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    const file = join(SCREENSHOT_DIR, 'chat-conversation.png');
    await page.screenshot({ path: file, fullPage: true });
    expect((await stat(file)).size).toBeGreaterThan(10_000);
  });
});
