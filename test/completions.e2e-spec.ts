/**
 * Legacy completions end to end with the official openai client and raw HTTP.
 */
import OpenAI from 'openai';
import { readGgufHeader, TokenType } from '@switchyard/model-gen';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { startStack, tinyModel, type Stack } from './support/stack';

/** Token counts without the cache details, which differ between otherwise identical runs. */
function tokenCounts(u: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null | undefined): number[] {
  return u ? [u.prompt_tokens, u.completion_tokens, u.total_tokens] : [];
}

jest.setTimeout(120_000);

let stack: Stack;
let client: OpenAI;
let modelPath: string;

beforeAll(async () => {
  modelPath = await tinyModel('tiny-chat');
  stack = await startStack({ models: [{ name: 'tiny-chat', path: modelPath }] });
  client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

describe('completions (e2e)', () => {
  it('completes a string prompt with OpenAI default max_tokens of 16', async () => {
    // Every control token (<s>, </s>, <|im_start|>, <|im_end|>: the end-of-generation ones among
    // them) is banned, so the model cannot stop before its token limit: the limit alone ends it.
    const { metadata } = await readGgufHeader(modelPath);
    const types = metadata['tokenizer.ggml.token_type'] as number[];
    const noEnd = Object.fromEntries(types.flatMap((type, id) => (type === TokenType.CONTROL ? [[String(id), -100]] : [])));
    expect(noEnd).toHaveProperty(String(metadata['tokenizer.ggml.eos_token_id']), -100);
    const ask = { model: 'tiny-chat', prompt: 'Once upon a time', temperature: 0, logit_bias: noEnd };
    const res = await client.completions.create(ask);
    expect(res.object).toBe('text_completion');
    expect(res.id).toMatch(/^cmpl-/);
    expect(res.choices[0].index).toBe(0);
    expect(res.choices[0].finish_reason).toBe('length');
    expect(res.usage!.completion_tokens).toBe(16);
    if (openapiAvailable()) expect(schemaErrors('CreateCompletionResponse', res)).toEqual([]);
    // The same as asking for 16 tokens, and the start of a longer answer (so 16 is the limit, not the text's end).
    const sixteen = await client.completions.create({ ...ask, max_tokens: 16 });
    expect(res.choices[0].text).toBe(sixteen.choices[0].text);
    const longer = await client.completions.create({ ...ask, max_tokens: 24 });
    expect(longer.usage!.completion_tokens).toBe(24);
    expect(longer.choices[0].text.startsWith(res.choices[0].text)).toBe(true);
    expect(longer.choices[0].text.length).toBeGreaterThan(res.choices[0].text.length);
  });

  it('answers an array of prompts with one choice per prompt, in order', async () => {
    const prompts = ['Once upon a time', 'The little girl', 'Hello world'];
    const batch = await client.completions.create({ model: 'tiny-chat', prompt: prompts, max_tokens: 10, temperature: 0 });
    expect(batch.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (let i = 0; i < prompts.length; i++) {
      const single = await client.completions.create({ model: 'tiny-chat', prompt: prompts[i], max_tokens: 10, temperature: 0 });
      expect(batch.choices[i].text).toBe(single.choices[0].text);
    }
    expect(batch.usage!.completion_tokens).toBe(30);
  });

  it('accepts token-id prompts', async () => {
    const res = await client.completions.create({ model: 'tiny-chat', prompt: [1, 300, 301, 302], max_tokens: 4, temperature: 0 });
    expect(res.usage!.prompt_tokens).toBe(4);
    expect(res.usage!.completion_tokens).toBe(4);
  });

  it('streams text chunks, a finish chunk and a usage chunk', async () => {
    const whole = await client.completions.create({ model: 'tiny-chat', prompt: 'Once upon a time', max_tokens: 12, temperature: 0 });
    const stream = await client.completions.create({
      model: 'tiny-chat',
      prompt: 'Once upon a time',
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Completion[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(whole.choices[0].text);
    expect(chunks[chunks.length - 1].choices).toEqual([]);
    expect(tokenCounts(chunks[chunks.length - 1].usage)).toEqual(tokenCounts(whole.usage));
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
  });

  it('stops at a stop sequence and does not emit it', async () => {
    const whole = await client.completions.create({ model: 'tiny-chat', prompt: 'Once upon a time', max_tokens: 30, temperature: 0 });
    const text = whole.choices[0].text;
    const stop = text.slice(10, 13);
    const res = await client.completions.create({ model: 'tiny-chat', prompt: 'Once upon a time', max_tokens: 30, temperature: 0, stop });
    expect(res.choices[0].text).toBe(text.slice(0, text.indexOf(stop)));
    expect(res.choices[0].finish_reason).toBe('stop');
  });
});
