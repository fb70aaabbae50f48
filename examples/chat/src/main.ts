import { ApiProblem, GatewayClient, type ChatMessage, type FinishReason, type ModelEntry } from './api';
import { createTokenSource, type TokenSource } from './auth';
import { fetchJson, parseConfig } from './config';

/**
 * The chat page: a model picker filled from GET /models, a conversation streamed from
 * POST /chat/completions, a stop button, and plain-language messages for every failure.
 */

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`The page is missing #${id}.`);
  return found;
}

const ui = {
  account: element('account', HTMLSpanElement),
  signIn: element('sign-in', HTMLButtonElement),
  signOut: element('sign-out', HTMLButtonElement),
  model: element('model', HTMLSelectElement),
  modelDetails: element('model-details', HTMLParagraphElement),
  alert: element('alert', HTMLDivElement),
  conversation: element('conversation', HTMLElement),
  form: element('composer', HTMLFormElement),
  prompt: element('prompt', HTMLTextAreaElement),
  maxTokens: element('max-tokens', HTMLInputElement),
  send: element('send', HTMLButtonElement),
  stop: element('stop', HTMLButtonElement),
};

let source: TokenSource | undefined;
let client: GatewayClient | undefined;
let models: ModelEntry[] = [];
let running: AbortController | undefined;
const history: ChatMessage[] = [];

const day = (iso: string | null): string | undefined => iso?.slice(0, 10);

/** The picker's first choice: no `model` in the request, so the gateway answers with its default deployment. */
const DEFAULT_CHOICE = '(default)';

function showAlert(kind: string, text: string): void {
  ui.alert.dataset.kind = kind;
  ui.alert.textContent = text;
  ui.alert.hidden = false;
}

function clearAlert(): void {
  ui.alert.hidden = true;
  ui.alert.textContent = '';
  delete ui.alert.dataset.kind;
}

function describeProblem(problem: ApiProblem): string {
  const { retryAfterSeconds, categories = [], requestId } = problem.details;
  switch (problem.kind) {
    case 'unauthenticated':
      return source?.interactive
        ? `Your sign-in is missing or has expired (${problem.message}). Sign in again.`
        : `The API refused the development token (${problem.message}). Restart npm run dev and reload.`;
    case 'forbidden':
      return `You are signed in, but not allowed to use this API: ${problem.message}`;
    case 'rate_limited':
      return retryAfterSeconds === undefined
        ? 'Too many requests right now. Try again shortly.'
        : `Too many requests right now. Try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`;
    case 'content_filter':
      return `Blocked by the content filter${categories.length > 0 ? ` (${categories.join(', ')})` : ''}. Rephrase your message and try again.`;
    case 'unreachable':
      return problem.message;
    case 'failed':
      return `${problem.message}${requestId ? ` (request id ${requestId})` : ''}`;
  }
}

function reportError(error: unknown): void {
  if (error instanceof ApiProblem) showAlert(error.kind, describeProblem(error));
  else showAlert('failed', error instanceof Error ? error.message : String(error));
}

function optionLabel(entry: ModelEntry): string {
  // NOTE: deployments are often named after their model; the name then appears once.
  const { name, version } = entry.model;
  const model = (name === entry.id ? [version] : [name, version]).filter((part) => part !== null).join(' ');
  const retires = day(entry.retirement_date);
  return `${entry.id}${model ? ` — ${model}` : ''}${retires ? ` · retires ${retires}` : ''}`;
}

function showModelDetails(): void {
  if (ui.model.value === DEFAULT_CHOICE) {
    ui.modelDetails.textContent = "The gateway's default deployment (its setting AZURE_OPENAI_DEPLOYMENT).";
    return;
  }
  const entry = models.find((candidate) => candidate.id === ui.model.value);
  if (!entry) {
    ui.modelDetails.textContent = '';
    return;
  }
  const retires = day(entry.retirement_date);
  const parts = [
    `Model ${entry.model.name ?? 'unknown'}, version ${entry.model.version ?? 'unknown'}`,
    entry.lifecycle_status ?? undefined,
    retires ? `Retires on ${retires}` : 'No retirement date announced',
  ];
  ui.modelDetails.textContent = `${parts.filter((part) => part !== undefined).join(' · ')}.`;
}

/** Deployments that can chat: those saying so, and those whose capabilities Azure did not report. */
const canChat = (entry: ModelEntry): boolean =>
  entry.capabilities.chatCompletion === true || Object.keys(entry.capabilities).length === 0;

async function loadModels(): Promise<void> {
  if (!client) return;
  ui.model.disabled = true;
  ui.model.replaceChildren(new Option('Loading models…', ''));
  try {
    models = (await client.models()).filter(canChat);
  } catch (error) {
    models = [];
    reportError(error);
  }
  ui.model.replaceChildren(
    ...(models.length > 0
      ? [
          new Option('Default deployment', DEFAULT_CHOICE),
          ...models.map((entry) => new Option(optionLabel(entry), entry.id)),
        ]
      : [new Option('No models', '')]),
  );
  ui.model.disabled = models.length === 0;
  showModelDetails();
  setBusy(false);
}

function setBusy(busy: boolean): void {
  ui.form.dataset.busy = String(busy);
  ui.send.disabled = busy || models.length === 0;
  ui.stop.disabled = !busy;
  ui.model.disabled = busy || models.length === 0;
}

interface Bubble {
  article: HTMLElement;
  text: Text;
  note: HTMLParagraphElement;
}

function addMessage(role: 'user' | 'assistant', content: string): Bubble {
  const article = document.createElement('article');
  article.className = `message ${role}`;
  const who = document.createElement('p');
  who.className = 'who';
  who.textContent = role === 'user' ? 'You' : 'Assistant';
  const body = document.createElement('p');
  body.className = 'content';
  const text = document.createTextNode(content);
  body.append(text);
  const note = document.createElement('p');
  note.className = 'note';
  article.append(who, body, note);
  ui.conversation.append(article);
  article.scrollIntoView({ block: 'end' });
  return { article, text, note };
}

const finishNotes: Partial<Record<NonNullable<FinishReason>, string>> = {
  length: 'Stopped at the max tokens limit.',
  content_filter: 'The rest of this answer was withheld by the content filter.',
};

/** The max tokens field, when it holds a positive whole number. */
function maxTokens(): { max_tokens?: number } {
  const value = ui.maxTokens.valueAsNumber;
  return Number.isInteger(value) && value > 0 ? { max_tokens: value } : {};
}

async function send(): Promise<void> {
  const content = ui.prompt.value.trim();
  if (!client || running || content === '' || ui.model.value === '') return;
  clearAlert();
  history.push({ role: 'user', content });
  const question = addMessage('user', content);
  ui.prompt.value = '';
  const reply = addMessage('assistant', '');
  reply.article.setAttribute('aria-busy', 'true');
  const controller = new AbortController();
  running = controller;
  setBusy(true);

  let received = '';
  // NOTE: an object, not lets: the stream callbacks set these, which control-flow analysis cannot see.
  const outcome: { finish: FinishReason; tokens: number | undefined } = { finish: null, tokens: undefined };
  try {
    await client.streamChat(
      {
        ...(ui.model.value === DEFAULT_CHOICE ? {} : { model: ui.model.value }),
        messages: history,
        ...maxTokens(),
      },
      {
        onText: (text) => {
          received += text;
          reply.text.appendData(text);
        },
        onFinish: (reason) => {
          outcome.finish = reason;
        },
        onUsage: (usage) => {
          outcome.tokens = usage.completion_tokens;
        },
      },
      controller.signal,
    );
    const { finish, tokens } = outcome;
    const note = finish ? finishNotes[finish] : undefined;
    reply.note.textContent = note ?? (tokens === undefined ? '' : `${tokens} tokens.`);
    if (finish) reply.article.dataset.finish = finish;
    if (finish === 'content_filter') showAlert('content_filter', note ?? '');
  } catch (error) {
    if (controller.signal.aborted) {
      reply.note.textContent = 'Stopped.';
      reply.article.dataset.finish = 'stopped';
    } else {
      reportError(error);
      reply.note.textContent = received === '' ? '' : 'The answer broke off.';
    }
  } finally {
    running = undefined;
    reply.article.removeAttribute('aria-busy');
    setBusy(false);
  }

  if (received !== '') {
    history.push({ role: 'assistant', content: received });
  } else if (reply.article.dataset.finish === undefined) {
    // NOTE: nothing came back: take the question out of the history and give its text back for a retry.
    history.pop();
    reply.article.remove();
    question.note.textContent = 'Not sent.';
    ui.prompt.value = content;
  }
  ui.prompt.focus();
}

function renderAccount(): void {
  const who = source?.account();
  ui.account.textContent = who ? `Signed in: ${who}` : 'Not signed in';
  ui.signIn.hidden = !source?.interactive || who !== undefined;
  ui.signOut.hidden = !source?.interactive || who === undefined;
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  void send();
});
ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.form.requestSubmit();
  }
});
ui.stop.addEventListener('click', () => {
  running?.abort();
});
ui.model.addEventListener('change', showModelDetails);
ui.signIn.addEventListener('click', () => {
  clearAlert();
  source
    ?.signIn()
    .then(async () => {
      renderAccount();
      await loadModels();
    })
    .catch(reportError);
});
ui.signOut.addEventListener('click', () => {
  source
    ?.signOut()
    .then(() => {
      models = [];
      renderAccount();
      ui.model.replaceChildren(new Option('Sign in to load models', ''));
      setBusy(false);
    })
    .catch(reportError);
});

async function start(): Promise<void> {
  try {
    source = await createTokenSource(parseConfig(await fetchJson('config.json', 'the page settings')));
  } catch (error) {
    ui.account.textContent = 'Not configured';
    ui.model.replaceChildren(new Option('No models', ''));
    reportError(error);
    return;
  }
  const current = source;
  client = new GatewayClient(current.apiBaseUrl, () => current.token());
  renderAccount();
  if (current.account() === undefined) {
    ui.model.replaceChildren(new Option('Sign in to load models', ''));
    showAlert('info', 'Sign in to start chatting.');
    return;
  }
  await loadModels();
}

void start();
