/**
 * With a real trained model (../shared/models/stories260K.gguf) where present: greedy text must be
 * real English. Skipped, visibly, where the file is absent.
 */
import { existsSync } from 'node:fs';
import OpenAI from 'openai';
import { STORIES_GGUF, startStack, type Stack } from './support/stack';

jest.setTimeout(120_000);

const present = existsSync(STORIES_GGUF);
if (!present) console.warn(`SKIPPED stories260K tests: ${STORIES_GGUF} not found (see README, "Tests")`);
const maybe = present ? describe : describe.skip;

maybe('stories260K, a real trained model (e2e)', () => {
  let stack: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    stack = await startStack({ models: [{ name: 'stories', path: STORIES_GGUF, context_size: 512 }] });
    client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('continues "Once upon a time" greedily with real English', async () => {
    const res = await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 20, temperature: 0 });
    expect(res.choices[0].text).toContain('there was a little girl named Lily');
  });

  it('streams the same story', async () => {
    let text = '';
    for await (const c of await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 20, temperature: 0, stream: true })) {
      text += c.choices[0]?.text ?? '';
    }
    expect(text).toContain('there was a little girl named Lily');
  });

  it('stops before "Lily" when asked', async () => {
    const res = await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 20, temperature: 0, stop: ['Lily'] });
    expect(res.choices[0].text).toBe(', there was a little girl named ');
    expect(res.choices[0].finish_reason).toBe('stop');
  });
});
