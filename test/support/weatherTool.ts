import { tool } from 'ai';
import * as z from 'zod';

/**
 * The tool the client tests offer, declared once and handed to each client in that client's own form: a city's
 * weather. The emulated model fills `city` with the capitalised word of the prompt ("… for Berlin" → "Berlin").
 */
export const weatherTool = {
  name: 'get_weather',
  description: 'The weather in a city',
  /** The arguments as a zod schema, for the clients that take one (openai helpers, LangChain, AI SDK). */
  input: z.object({ city: z.string() }),
  /** The same arguments as JSON Schema, complete enough for `strict: true`, for tools written by hand. */
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
};

/** The tool as the Vercel AI SDK declares it; each city it runs for is pushed to `seen`. */
export const aiSdkWeatherTool = (seen: string[]) =>
  tool({
    description: weatherTool.description,
    inputSchema: weatherTool.input,
    execute: ({ city }) => {
      seen.push(city);
      return Promise.resolve({ city, temperature: 18 });
    },
  });
