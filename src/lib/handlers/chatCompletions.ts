import type { ChatRequest } from '../chat/chatRequest';
import type { CompleteChat } from '../chat/completeChat';
import { readJsonBody } from '../request/requestBody';
import type { CallerCall } from '../request/requireCaller';
import type { Route } from '../request/serve';

export interface ChatCompletionsDeps {
  parse: (body: unknown) => ChatRequest;
  complete: CompleteChat;
  maxBodyBytes: number;
}

/** POST /api/chat/completions: validate the body, then complete it upstream (streamed or not). */
export function chatCompletions({ parse, complete, maxBodyBytes }: ChatCompletionsDeps): Route<CallerCall> {
  return async ({ request, caller, summary }) => {
    const body = parse(await readJsonBody(request, maxBodyBytes));
    const result = await complete(body, caller.key, summary);
    return { response: result, streamDone: result.streamDone };
  };
}
