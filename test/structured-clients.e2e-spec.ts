/**
 * Strict structured output through the clients people use: the Vercel AI SDK's `generateObject`
 * (openai-compatible provider, json_schema strict) and LangChain's `withStructuredOutput` (json_schema
 * and strict function calling), both with zod schemas carrying min/max, exclusive bounds, lengths and
 * regexes. The clients parse and validate with zod themselves, so a bound the grammar did not keep
 * is a thrown error here. A random-weight model sampled hot at several seeds is the hardest case: it
 * writes whatever the grammar lets through.
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI } from '@langchain/openai';
import { generateObject } from 'ai';
import { z } from 'zod';
// LangChain 0.3 converts zod 3 schemas with their bounds (its zod 4 path drops min/max/regex).
import { z as z3 } from 'zod/v3';
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(300_000);

const Person = z.object({
  name: z
    .string()
    .min(2)
    .max(8)
    .regex(/^[A-Z][a-z]+$/),
  age: z.number().int().min(18).max(65),
  score: z.number().gt(0).max(1),
  tags: z.array(z.enum(['red', 'green', 'blue'])).min(1).max(3),
  code: z.string().regex(/^[A-Z]{3}-[0-9]{2}$/),
});
const Person3 = z3.object({
  name: z3
    .string()
    .min(2)
    .max(8)
    .regex(/^[A-Z][a-z]+$/),
  age: z3.number().int().min(18).max(65),
  score: z3.number().gt(0).max(1),
  tags: z3.array(z3.enum(['red', 'green', 'blue'])).min(1).max(3),
  code: z3.string().regex(/^[A-Z]{3}-[0-9]{2}$/),
});
const SEEDS = [1, 2, 3];

describe('structured output through the AI SDK and LangChain (e2e)', () => {
  let stack: Stack;
  const bodies: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const tiny = await tinyModel('tiny-chat');
    stack = await startStack({ models: [{ name: 'tiny-chat', path: tiny, parallel: 3, context_size: 2048 }] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** fetch that records each request body, so a test can see what the client really sent. */
  const recordingFetch: typeof fetch = async (input, init) => {
    if (typeof init?.body === 'string') bodies.push(JSON.parse(init.body) as Record<string, unknown>);
    return fetch(input, init);
  };

  it('AI SDK generateObject with a constrained zod schema: every seed parses and validates', async () => {
    const provider = createOpenAICompatible({ name: 'switchyard', baseURL: `${stack.baseUrl}/v1`, supportsStructuredOutputs: true, fetch: recordingFetch });
    bodies.length = 0;
    const objects = await Promise.all(
      SEEDS.map(async (seed) => {
        const { object, finishReason } = await generateObject({
          model: provider.chatModel('tiny-chat'),
          schema: Person,
          prompt: 'Describe a person.',
          temperature: 1,
          seed,
          maxRetries: 0,
          maxOutputTokens: 400,
        });
        expect(finishReason).toBe('stop');
        return object;
      }),
    );
    // The SDK sent a strict json_schema (not json_object plus a prompt), so the server enforced it.
    expect(bodies).toHaveLength(SEEDS.length);
    for (const body of bodies) expect(body.response_format).toMatchObject({ type: 'json_schema', json_schema: { strict: true, schema: { type: 'object' } } });
    for (const object of objects) {
      expect(Person.safeParse(object).success).toBe(true);
      expect(object.age).toBeGreaterThanOrEqual(18);
      expect(object.score).toBeGreaterThan(0);
    }
    // Hot sampling over random weights: the seeds give different objects (the grammar is not a fixed answer).
    expect(new Set(objects.map((o) => JSON.stringify(o))).size).toBeGreaterThan(1);
  });

  it.each(['jsonSchema', 'functionCalling'] as const)('LangChain withStructuredOutput (%s, strict) with the same zod schema validates at every seed', async (method) => {
    bodies.length = 0;
    const results = await Promise.all(
      SEEDS.map(async (seed) => {
        const llm = new ChatOpenAI({
          model: 'tiny-chat',
          apiKey: 'unused',
          temperature: 1,
          maxTokens: 400,
          maxRetries: 0,
          modelKwargs: { seed },
          configuration: { baseURL: `${stack.baseUrl}/v1`, fetch: recordingFetch },
        });
        // Typed as a plain schema: LangChain's zod 3 generics are too deep for tsc; at run time it sees the zod object.
        return llm.withStructuredOutput(Person3 as unknown as Record<string, unknown>, { method, strict: true, name: 'person' }).invoke('Describe a person.');
      }),
    );
    expect(bodies).toHaveLength(SEEDS.length);
    for (const body of bodies) {
      const sent = method === 'jsonSchema' ? (body.response_format as { json_schema: { schema: unknown } }).json_schema.schema : (body.tools as Array<{ function: { parameters: unknown } }>)[0].function.parameters;
      // The bounds reached the server (LangChain's converter keeps them), so the grammar had them to keep.
      expect(sent).toMatchObject({ properties: { name: { minLength: 2, maxLength: 8, pattern: '^[A-Z][a-z]+$' }, age: { type: 'integer', minimum: 18 } } });
      if (method === 'jsonSchema') expect(body.response_format).toMatchObject({ type: 'json_schema', json_schema: { strict: true } });
      else expect(body.tools).toEqual([expect.objectContaining({ type: 'function', function: expect.objectContaining({ name: 'person', strict: true }) })]);
    }
    for (const result of results) expect(Person3.safeParse(result).success).toBe(true);
  });
});
