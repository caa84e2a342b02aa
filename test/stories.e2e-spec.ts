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
    // 1024: a prompt that documents tools in the chat template is longer than the 512 it was trained on.
    stack = await startStack({ models: [{ name: 'stories', path: STORIES_GGUF, context_size: 1024 }] });
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

  it('gives the trained model a confident next word: " there" after "Once upon a time,"', async () => {
    const res = await client.completions.create({ model: 'stories', prompt: 'Once upon a time,', max_tokens: 1, temperature: 0, logprobs: 3 });
    const lp = res.choices[0].logprobs!;
    expect(lp.tokens![0]).toBe(' there');
    expect(lp.token_logprobs![0]).toBeGreaterThan(Math.log(0.5));
    expect(Object.keys(lp.top_logprobs![0])[0]).toBe(' there');
  });

  it('banning " Lily" with logit_bias changes the story there and only there', async () => {
    const res0 = await fetch(`${stack.baseUrl}/tokenize`, {
      method: 'POST',
      body: JSON.stringify({ content: 'Lily', with_pieces: true }),
      headers: { 'content-type': 'application/json' },
    });
    const pieces = ((await res0.json()) as { tokens: Array<{ id: number; piece: string }> }).tokens.filter((t) => t.piece.includes('Lily'));
    expect(pieces).toHaveLength(1);
    const ids = { tokens: pieces.map((t) => t.id) };
    const res = await client.completions.create({
      model: 'stories',
      prompt: 'Once upon a time',
      max_tokens: 20,
      temperature: 0,
      logit_bias: { [String(ids.tokens[0])]: -100 },
    });
    expect(res.choices[0].text.startsWith(', there was a little girl named')).toBe(true);
    expect(res.choices[0].text).not.toContain('Lily');
  });

  it('a forced tool call from a real model is valid JSON for the schema', async () => {
    const res = await client.chat.completions.create({
      model: 'stories',
      messages: [{ role: 'user', content: 'Who is in the story?' }],
      tools: [{ type: 'function', function: { name: 'name_hero', parameters: { type: 'object', properties: { hero: { type: 'string', enum: ['Lily', 'Tom', 'Ben'] } }, required: ['hero'] } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      max_tokens: 60,
      temperature: 0,
    });
    const call = res.choices[0].message.tool_calls![0] as { function: { name: string; arguments: string } };
    expect(call.function.name).toBe('name_hero');
    expect(['Lily', 'Tom', 'Ben']).toContain(JSON.parse(call.function.arguments).hero);
  });
});
