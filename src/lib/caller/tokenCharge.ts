import type { CallerLimiter, TokenReservation } from './callerLimits';

/**
 * The token side of one upstream generation, shared by every route that generates: reserve an estimate when
 * the request is admitted, then settle with what Azure reported (or, without a report, what was counted).
 */

/** Token usage as Azure reports it, in the chat shape; the Responses shape is mapped onto it by the relay. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface TokenEstimate {
  /** The prompt's estimated tokens. */
  promptTokens: number;
  /** The completion cap sent upstream, per choice. */
  completionCap: number;
  /** How many choices the request asks for. */
  choices: number;
  /** The completion length a request is assumed to need before it has run (LIMIT_EXPECTED_COMPLETION_TOKENS). */
  expectedCompletionTokens: number;
}

export interface TokenCharge {
  /** Tokens reserved at admission. */
  readonly reserved: number;
  /** Azure reported usage: charge exactly that. Each settle answers the tokens charged. */
  settleUsage(usage: Usage): number;
  /** No report (a stream cut short): charge the prompt estimate plus the completion tokens counted. */
  settleCounted(completionTokens: number): number;
  /** Azure refused the request before generating anything: charge nothing. */
  refund(): number;
}

/** What a request is charged on admission: its prompt plus the expected completion, never more than the cap. */
export function admissionEstimate(estimate: TokenEstimate): number {
  const perChoice = Math.min(estimate.completionCap, estimate.expectedCompletionTokens);
  return estimate.promptTokens + perChoice * estimate.choices;
}

export async function reserveTokens(
  limiter: CallerLimiter,
  callerKey: string,
  estimate: TokenEstimate,
): Promise<TokenCharge> {
  const reserved = admissionEstimate(estimate);
  const reservation: TokenReservation = await limiter.reserve(callerKey, reserved);
  const settle = (used: number): number => {
    reservation.settle(used);
    return used;
  };
  return {
    reserved,
    settleUsage: (usage) => settle(usage.total_tokens),
    settleCounted: (completionTokens) => settle(estimate.promptTokens + completionTokens),
    refund: () => settle(0),
  };
}

/** What admitting one generation holds: its token reservation and, when streamed, a stream slot. */
export interface Admission {
  charge: TokenCharge;
  /** Frees the stream slot (idempotent); absent when the request does not stream. */
  releaseStream: (() => void) | undefined;
}

/** Takes a stream slot when the request streams, then reserves its tokens; on a refusal nothing stays held. */
export async function admitGeneration(
  limiter: CallerLimiter,
  callerKey: string,
  estimate: TokenEstimate,
  stream: boolean,
): Promise<Admission> {
  const releaseStream = stream ? await limiter.openStream(callerKey) : undefined;
  try {
    return { charge: await reserveTokens(limiter, callerKey, estimate), releaseStream };
  } catch (error) {
    releaseStream?.();
    throw error;
  }
}

/**
 * Prompt estimate as Azure does it: about four characters a token, plus a little per message. `extras` are
 * the other parts of the request the model reads (tool definitions, a response schema).
 */
export function estimatePromptTokens(messages: readonly unknown[], extras: readonly unknown[] = []): number {
  let characters = 0;
  for (const part of [...messages, ...extras]) {
    if (part !== undefined && part !== null) characters += JSON.stringify(part).length;
  }
  return Math.ceil(characters / 4) + messages.length * 4;
}

/** Tokens in generated text that was counted rather than reported: about four characters a token. */
export const tokensForCharacters = (characters: number): number => Math.ceil(characters / 4);

/**
 * Settles a relayed stream: with the usage Azure's last event reported, or, for a stream cut short before it,
 * the prompt estimate plus the text relayed until then. Answers the tokens charged.
 */
export function settleStream(
  charge: TokenCharge,
  outcome: { usage?: Usage; generatedCharacters: number },
): number {
  return outcome.usage
    ? charge.settleUsage(outcome.usage)
    : charge.settleCounted(tokensForCharacters(outcome.generatedCharacters));
}
