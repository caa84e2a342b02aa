/**
 * Chat completions end to end: the official openai client against a real gateway, Redis, BullMQ and
 * a llama.cpp worker serving a generated tiny model. Response bodies are checked against OpenAI's
 * OpenAPI schemas.
 */
import OpenAI from 'openai';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { startStack, tinyModel, type Stack } from './support/stack';

/** Token counts without the cache details, which differ between otherwise identical runs. */
function tokenCounts(u: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null | undefined): number[] {
  return u ? [u.prompt_tokens, u.completion_tokens, u.total_tokens] : [];
}

jest.setTimeout(120_000);

let stack: Stack;
let client: OpenAI;
const checkSchemas = openapiAvailable();
if (!checkSchemas) console.warn('OpenAI OpenAPI file not found: schema checks are skipped');

beforeAll(async () => {
  const path = await tinyModel('tiny-chat');
  stack = await startStack({ models: [{ name: 'tiny-chat', aliases: ['tiny'], path, parallel: 4 }] });
  client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

const messages: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Tell me a story about a little girl.' },
];

describe('chat completions (e2e)', () => {
  it('lists and gets models in OpenAI shapes', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['tiny-chat']);
    const raw = await (await fetch(`${stack.baseUrl}/v1/models`)).json();
    if (checkSchemas) expect(schemaErrors('ListModelsResponse', raw)).toEqual([]);
    const one = await client.models.retrieve('tiny');
    expect(one).toMatchObject({ id: 'tiny', object: 'model', owned_by: 'switchyard' });
    if (checkSchemas) expect(schemaErrors('Model', one)).toEqual([]);
  });

  it('answers without streaming, with usage and finish_reason length at max_tokens', async () => {
    const res = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 12, temperature: 0 });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.model).toBe('tiny-chat');
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0].message.role).toBe('assistant');
    expect(res.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(res.choices[0].finish_reason).toBe('length');
    expect(res.usage!.completion_tokens).toBe(12);
    expect(res.usage!.prompt_tokens).toBeGreaterThan(10);
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + 12);
    if (checkSchemas) expect(schemaErrors('CreateChatCompletionResponse', res)).toEqual([]);
  });

  it('accepts an alias, max_completion_tokens and text content parts', async () => {
    const res = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }, { type: 'text', text: 'world' }] }],
      max_completion_tokens: 3,
      temperature: 0,
    });
    expect(res.model).toBe('tiny-chat');
    expect(res.usage!.completion_tokens).toBe(3);
  });

  it('streams the same text as the non-streamed answer, then a usage chunk with empty choices', async () => {
    const params = { model: 'tiny-chat', messages, max_tokens: 20, temperature: 0 } as const;
    const whole = await client.chat.completions.create(params);
    const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(whole.choices[0].message.content);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish).toHaveLength(1);
    expect(finish[0].choices[0].finish_reason).toBe('length');
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(tokenCounts(last.usage)).toEqual(tokenCounts(whole.usage));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    if (checkSchemas) for (const c of chunks) expect(schemaErrors('CreateChatCompletionStreamResponse', c)).toEqual([]);
  });

  it('ends with [DONE] on the raw SSE stream and sends no usage chunk unless asked', async () => {
    const res = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-chat', messages, max_tokens: 5, stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const body = await res.text();
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = body.split('\n\n').filter((b) => b.startsWith('data: {'));
    for (const e of events) expect(JSON.parse(e.slice(6))).not.toHaveProperty('usage');
  });

  it('never emits a stop sequence, even one spanning tokens, and reports finish_reason stop', async () => {
    const base = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 40, temperature: 0 });
    const text = base.choices[0].message.content!;
    // A stop string taken from the middle of the greedy answer, long enough to span tokens.
    const start = Math.floor(text.length / 2);
    const stop = text.slice(start, start + 5);
    expect(stop.length).toBe(5);
    const cut = text.slice(0, text.indexOf(stop));
    for (const stream of [false, true]) {
      let out = '';
      let reason: string | null = null;
      if (stream) {
        for await (const c of await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 40, temperature: 0, stop: [stop, 'QQQQ'], stream: true })) {
          out += c.choices[0]?.delta.content ?? '';
          reason = c.choices[0]?.finish_reason ?? reason;
        }
      } else {
        const r = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 40, temperature: 0, stop });
        out = r.choices[0].message.content!;
        reason = r.choices[0].finish_reason;
      }
      expect(out).toBe(cut);
      expect(out).not.toContain(stop);
      expect(reason).toBe('stop');
    }
  });

  it('reproduces a sampled answer with the same seed and varies it with another', async () => {
    const ask = (seed: number) =>
      client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 24, temperature: 1.5, seed });
    const [a, b, c] = await Promise.all([ask(42), ask(42), ask(43)]);
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
    expect(a.choices[0].message.content).not.toBe(c.choices[0].message.content);
  });

  it('serves 4 concurrent streams, each complete and in order', async () => {
    const prompts = ['one', 'two', 'three', 'four'];
    const expected = await Promise.all(
      prompts.map(async (p) => {
        const r = await client.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: p }], max_tokens: 30, temperature: 0 });
        return r;
      }),
    );
    const streamed = await Promise.all(
      prompts.map(async (p) => {
        let text = '';
        let usage: OpenAI.CompletionUsage | undefined;
        let finish: string | null = null;
        const s = await client.chat.completions.create({
          model: 'tiny-chat',
          messages: [{ role: 'user', content: p }],
          max_tokens: 30,
          temperature: 0,
          stream: true,
          stream_options: { include_usage: true },
        });
        for await (const c of s) {
          text += c.choices[0]?.delta.content ?? '';
          finish = c.choices[0]?.finish_reason ?? finish;
          usage = c.usage ?? usage;
        }
        return { text, usage, finish };
      }),
    );
    streamed.forEach((s, i) => {
      expect(s.finish).toBe(expected[i].choices[0].finish_reason);
      expect(tokenCounts(s.usage)).toEqual(tokenCounts(expected[i].usage));
      expect(s.text.length).toBeGreaterThan(0);
    });
    // Different prompts, different greedy answers: the streams did not get mixed up.
    expect(new Set(streamed.map((s) => s.text)).size).toBe(4);
    streamed.forEach((s, i) => expect(s.text).toBe(expected[i].choices[0].message.content));
  });

  it('gives n choices, each with its own index', async () => {
    const res = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 8, temperature: 1, seed: 5, n: 3 });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(res.usage!.completion_tokens).toBe(24);
  });
});
