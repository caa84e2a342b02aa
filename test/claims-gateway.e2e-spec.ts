/**
 * Claims of README.md and docs/ that no other suite checks, end to end on generated tiny models:
 * the admin API closed when only user keys are configured, the 503 after QUEUE_TIMEOUT_MS, the
 * rejection of audio and file parts, role `function` and `best_of`, the fallback chat template of a
 * model without one, `finish_reason: "length"` at a full context, prompt caching with its
 * `cached_tokens`, and the sampling extras (penalties, `top_k`, `min_p`, `repeat_penalty`) changing
 * the output in the direction they promise. Random weights say nothing sensible, so every check
 * compares the server with itself: greedy output with and without a parameter, the same prompt twice.
 */
import { Queue } from 'bullmq';
import { BACKENDS, REDIS_PREFIX } from '@switchyard/contracts';
import { readGgufHeader, TokenType } from '@switchyard/model-gen';
import { waitUntil } from '@switchyard/runtime';
import { expectOpenAIError } from './support/errors';
import { readSse, startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(180_000);

const USER = 'sk-claims-user-000001';
const QUEUE_TIMEOUT_MS = 3000;

let stack: Stack;
/** logit_bias banning every control token (the end-of-generation ones among them), so output runs to its limit. */
let noEnd: Record<string, number>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- OpenAI, admin and error bodies of many shapes
type Json = any;

async function call(method: string, path: string, key: string | null, body?: object, signal?: AbortSignal): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

const post = (path: string, body: object, signal?: AbortSignal): ReturnType<typeof call> => call('POST', path, USER, body, signal);

beforeAll(async () => {
  const [tiny, plain, long] = await Promise.all([
    tinyModel('tiny-chat'),
    tinyModel('tiny-plain', { chatTemplate: null }),
    // The same options as errors.e2e-spec.ts's, so both suites share one cached file.
    tinyModel('tiny-long', { contextLength: 32768 }),
  ]);
  const types = (await readGgufHeader(tiny)).metadata['tokenizer.ggml.token_type'] as number[];
  noEnd = Object.fromEntries(types.flatMap((type, id) => (type === TokenType.CONTROL ? [[String(id), -100]] : [])));
  stack = await startStack({
    models: [
      { name: 'tiny-chat', path: tiny, parallel: 2, context_size: 1024 },
      // Its own context with one sequence: nothing else touches its cache.
      { name: 'cache', path: tiny, parallel: 1, context_size: 1024 },
      { name: 'plain', path: plain, parallel: 1, context_size: 128 },
      { name: 'long', path: long, parallel: 1, context_size: 32768 },
      { name: 'spare', path: tiny, preload: false, auto_load: false },
    ],
    // User keys and no admin keys.
    gatewayEnv: { API_KEYS: USER, QUEUE_TIMEOUT_MS: String(QUEUE_TIMEOUT_MS) },
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('only user keys configured (e2e)', () => {
  // README (ADMIN_KEYS) and docs/operations.md: "with user keys but no admin keys the admin API is closed".
  const routes: Array<[string, string, object | undefined]> = [
    ['GET', '/admin/workers', undefined],
    ['GET', '/admin/models', undefined],
    ['POST', '/admin/models/spare/load', {}],
    ['POST', '/admin/models/tiny-chat/unload', {}],
    ['GET', '/v1/internal/model/list', undefined],
    ['GET', '/v1/internal/model/info', undefined],
    ['POST', '/v1/internal/model/load', { model_name: 'spare' }],
    ['POST', '/v1/internal/model/unload', { model_name: 'tiny-chat' }],
  ];

  it('closes every admin route: 403 with the user key, 401 without one, while the user key opens the OpenAI API', async () => {
    for (const [method, path, body] of routes) {
      const user = await call(method, path, USER, body);
      expect({ route: `${method} ${path}`, status: user.status, error: user.json?.error }).toMatchObject({
        status: 403,
        error: { type: 'permission_error', code: 'admin_key_required' },
      });
      expectOpenAIError(user, 403, null);
      const none = await call(method, path, null, body);
      expect({ route: `${method} ${path}`, status: none.status, code: none.json?.error?.code }).toEqual({ route: `${method} ${path}`, status: 401, code: 'missing_api_key' });
    }
    const models = await call('GET', '/v1/models', USER);
    expect(models.status).toBe(200);
    expect((models.json.data as Array<{ id: string }>).map((m) => m.id)).toEqual(expect.arrayContaining(['tiny-chat', 'cache', 'plain', 'long']));
    // The user key serves the OpenAI API, and the refused loads loaded nothing: `spare`
    // (auto_load false) still cannot be served.
    const chat = await post('/v1/chat/completions', { model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(chat.status).toBe(200);
    const spare = await post('/v1/chat/completions', { model: 'spare', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(spare.status).toBe(503);
  });
});

describe('QUEUE_TIMEOUT_MS (e2e)', () => {
  it('answers a request that waited longer than QUEUE_TIMEOUT_MS for a slot with 503 queue_timeout, and removes it from the queue', async () => {
    const queue = new Queue(BACKENDS['llama.cpp'].queueName('long'), { connection: { host: '127.0.0.1', port: stack.redis.port }, prefix: REDIS_PREFIX });
    const blocker = new AbortController();
    try {
      // A full-context generation (many seconds) holds the only slot until its client leaves.
      const running = post('/v1/completions', { model: 'long', prompt: 'Once', max_tokens: 30000, temperature: 0, logit_bias: noEnd }, blocker.signal).catch((e: Error) => e);
      let counts: Record<string, number> = {};
      const reached = (what: string, want: { active: number; waiting: number }): Promise<void> =>
        waitUntil(
          async () => {
            counts = await queue.getJobCounts('active', 'waiting');
            return counts.active === want.active && counts.waiting === want.waiting;
          },
          30_000,
          what,
          stack.logs,
        ).catch((err: Error) => {
          throw new Error(`${err.message.split('\n')[0]} (last seen: ${JSON.stringify(counts)})`);
        });
      await reached('the blocking job to run', { active: 1, waiting: 0 });
      const started = Date.now();
      const waiting = post('/v1/completions', { model: 'long', prompt: 'x', max_tokens: 1 }, AbortSignal.timeout(90_000));
      await reached('the second job to wait', { active: 1, waiting: 1 });
      const r = await waiting;
      const took = Date.now() - started;
      expect(r.status).toBe(503);
      expectOpenAIError(r, 503, null);
      expect(r.json.error).toEqual({
        type: 'server_error',
        code: 'queue_timeout',
        param: null,
        message: `Timed out after ${QUEUE_TIMEOUT_MS} ms waiting for a free slot on 'long'.`,
      });
      expect(r.headers.get('retry-after')).toBe('5');
      // Not before its bound; checked every 2 s of silence, so a few seconds after it (generous for a
      // loaded machine; without the timeout it would wait for the blocker's many seconds).
      expect(took).toBeGreaterThanOrEqual(QUEUE_TIMEOUT_MS);
      expect(took).toBeLessThan(QUEUE_TIMEOUT_MS + 20_000);
      // The timed-out job left the queue; the running one was not touched.
      expect(await queue.getJobCounts('active', 'waiting')).toMatchObject({ active: 1, waiting: 0 });
      blocker.abort();
      expect(await running).toHaveProperty('name', 'AbortError');
      await reached('the blocker to be cancelled', { active: 0, waiting: 0 });
    } finally {
      blocker.abort();
      await queue.close();
    }
  });
});

describe('rejected rather than ignored (e2e)', () => {
  const chat = { model: 'tiny-chat', max_tokens: 2 };

  it.each([
    ['input_audio', { type: 'input_audio', input_audio: { data: 'UklGRgAAAABXQVZF', format: 'wav' } }],
    ['file', { type: 'file', file: { filename: 'notes.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }],
  ])('a content part of type %s is a 400 unsupported_content_type naming the part', async (type, part) => {
    const r = await post('/v1/chat/completions', { ...chat, messages: [{ role: 'user', content: [{ type: 'text', text: 'Listen:' }, part] }] });
    expectOpenAIError(r, 400, 'messages[0].content[1]');
    expect(r.json.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_content_type' });
    expect(r.json.error.message).toContain(`'${type}'`);
  });

  it("a message with role 'function' is a 400 naming its role (use 'tool')", async () => {
    const r = await post('/v1/chat/completions', {
      ...chat,
      messages: [
        { role: 'user', content: 'What time is it?' },
        { role: 'function', name: 'get_time', content: '12:00' },
      ],
    });
    expectOpenAIError(r, 400, 'messages[1].role');
    expect(r.json.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_role' });
    expect(r.json.error.message).toMatch(/'function'.*'tool'/);
  });

  it('best_of other than n is a 400 unsupported_parameter; best_of equal to n is served', async () => {
    const r = await post('/v1/completions', { model: 'tiny-chat', prompt: 'Once', max_tokens: 2, best_of: 3 });
    expectOpenAIError(r, 400, 'best_of');
    expect(r.json.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_parameter' });
    const withN = await post('/v1/completions', { model: 'tiny-chat', prompt: 'Once', max_tokens: 2, best_of: 2, n: 3 });
    expectOpenAIError(withN, 400, 'best_of');
    const same = await post('/v1/completions', { model: 'tiny-chat', prompt: 'Once', max_tokens: 2, best_of: 2, n: 2 });
    expect(same.status).toBe(200);
    expect(same.json.choices).toHaveLength(2);
  });
});

describe('a model without a chat template, and a full context (e2e)', () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello there' },
  ];

  it('renders chat through a fallback template: the turns wrapped in role markers, not ChatML, and answered', async () => {
    // The generated model's vocabulary has ChatML's tokens; tiny-chat's own template uses them.
    const own = await post('/apply-template', { model: 'tiny-chat', messages });
    expect(own.status).toBe(200);
    expect(own.json.prompt).toMatch(/<\|im_start\|>\s*user\s+Hello there/);
    const rendered = await post('/apply-template', { model: 'plain', messages });
    expect(rendered.status).toBe(200);
    const prompt = rendered.json.prompt as string;
    expect(prompt).not.toContain('<|im_start|>');
    // A template, not the contents run together: both turns, in order, with text around them.
    const system = prompt.indexOf('Be brief.');
    const user = prompt.indexOf('Hello there');
    expect(system).toBeGreaterThanOrEqual(0);
    expect(user).toBeGreaterThan(system);
    expect(prompt.replace('Be brief.', '').replace('Hello there', '').trim().length).toBeGreaterThan(8);
    // The model sees more than the bare contents: their tokens and the template's around them.
    const bare = await Promise.all(['Be brief.', 'Hello there'].map(async (content) => (await post('/tokenize', { model: 'plain', content })).json.tokens.length as number));
    const res = await post('/v1/chat/completions', { model: 'plain', messages, max_tokens: 3, temperature: 0, logit_bias: noEnd });
    expect(res.status).toBe(200);
    expect(res.json.choices[0]).toMatchObject({ finish_reason: 'length', message: { role: 'assistant' } });
    expect(res.json.usage.completion_tokens).toBe(3);
    expect(res.json.usage.prompt_tokens).toBeGreaterThan(bare[0] + bare[1] + 4);
  });

  it('without max_tokens runs until the context is full, then stops with finish_reason length, streamed too', async () => {
    const body = { model: 'plain', messages, temperature: 0, logit_bias: noEnd };
    const res = await post('/v1/chat/completions', body);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-max-tokens-clamped')).toBeNull();
    expect(res.json.choices[0].finish_reason).toBe('length');
    const { prompt_tokens: prompt, completion_tokens: completion } = res.json.usage as { prompt_tokens: number; completion_tokens: number };
    expect(completion).toBeGreaterThan(50);
    expect(prompt + completion).toBe(128);
    const stream = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${USER}` },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    });
    expect(stream.status).toBe(200);
    const chunks = (await readSse(stream)).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as Json);
    const finishes = chunks.flatMap((c) => (c.choices as Json[]).map((x) => x.finish_reason).filter((f) => f != null));
    expect(finishes).toEqual(['length']);
    expect(chunks[chunks.length - 1].usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: completion });
  });
});

describe('prompt caching (e2e)', () => {
  const prompt = 'Once upon a time there was a little girl who lived in a village near the forest with her mother.';
  const complete = async (text: string, stream = false): Promise<{ prompt_tokens: number; cached: number }> => {
    if (!stream) {
      const r = await post('/v1/completions', { model: 'cache', prompt: text, max_tokens: 4, temperature: 0 });
      expect(r.status).toBe(200);
      return { prompt_tokens: r.json.usage.prompt_tokens, cached: r.json.usage.prompt_tokens_details.cached_tokens };
    }
    const res = await fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${USER}` },
      body: JSON.stringify({ model: 'cache', prompt: text, max_tokens: 4, temperature: 0, stream: true, stream_options: { include_usage: true } }),
    });
    const last = JSON.parse((await readSse(res)).filter((d) => d !== '[DONE]').pop()!) as Json;
    return { prompt_tokens: last.usage.prompt_tokens, cached: last.usage.prompt_tokens_details.cached_tokens };
  };
  const tokens = async (text: string): Promise<number[]> => (await post('/tokenize', { model: 'cache', content: text, add_special: true })).json.tokens as number[];

  it('reuses the cached prefix of an earlier request and reports it as usage.prompt_tokens_details.cached_tokens', async () => {
    const first = await complete(prompt);
    expect(first.prompt_tokens).toBeGreaterThan(15);
    // A fresh sequence: nothing cached.
    expect(first.cached).toBe(0);
    // The same prompt again: all of it but the last token (evaluated again for the next token's logits).
    expect(await complete(prompt)).toEqual({ prompt_tokens: first.prompt_tokens, cached: first.prompt_tokens - 1 });
    // A longer prompt with the same start reuses that start and evaluates only the rest.
    const longer = `${prompt} One day she went to find her friend.`;
    const [a, b] = await Promise.all([tokens(prompt), tokens(longer)]);
    let shared = 0;
    while (shared < a.length && a[shared] === b[shared]) shared++;
    expect(shared).toBeGreaterThan(15);
    const extended = await complete(longer, true);
    expect(extended.prompt_tokens).toBe(b.length);
    expect(extended.cached).toBeGreaterThanOrEqual(shared);
    expect(extended.cached).toBeLessThan(b.length);
    // A prompt that starts differently shares at most the BOS token with what is cached.
    expect((await complete('Zebras run fast across the plains.')).cached).toBeLessThanOrEqual(1);
  });
});

describe('sampling extras change the output (e2e)', () => {
  const messages = [{ role: 'user', content: 'Tell me a story about a cat.' }];
  /** Greedy tokens (ends banned, so always 48 of them) under the given extra fields. */
  const greedy = async (extra: object = {}): Promise<string[]> => {
    const r = await post('/v1/chat/completions', { model: 'tiny-chat', messages, max_tokens: 48, temperature: 0, logprobs: true, logit_bias: noEnd, ...extra });
    expect(r.status).toBe(200);
    const out = (r.json.choices[0].logprobs.content as Array<{ token: string }>).map((t) => t.token);
    expect(out).toHaveLength(48);
    return out;
  };
  const distinct = (t: string[]): number => new Set(t).size;
  /** A hot sample with a fixed seed, so only the extra field differs between two calls. */
  const sampled = async (extra: object = {}): Promise<string> => {
    const r = await post('/v1/chat/completions', { model: 'tiny-chat', messages, max_tokens: 24, temperature: 1.5, seed: 5, logit_bias: noEnd, ...extra });
    expect(r.status).toBe(200);
    return r.json.choices[0].message.content as string;
  };

  let base: string[];
  beforeAll(async () => {
    base = await greedy();
  });

  it('greedy output repeats itself without penalties, and is reproducible (the baseline)', async () => {
    expect(distinct(base)).toBeLessThan(base.length);
    expect(await greedy()).toEqual(base);
  });

  it('repeat_penalty above 1 changes greedy output and reduces repeated tokens', async () => {
    const penalized = await greedy({ repeat_penalty: 1.5 });
    expect(penalized).not.toEqual(base);
    expect(distinct(penalized)).toBeGreaterThan(distinct(base));
    // 1 is no penalty.
    expect(await greedy({ repeat_penalty: 1 })).toEqual(base);
  });

  it('presence_penalty and frequency_penalty change greedy output: positive ones reduce repeats, a negative one adds them', async () => {
    for (const extra of [{ presence_penalty: 2 }, { frequency_penalty: 2 }]) {
      const penalized = await greedy(extra);
      expect({ extra, changed: penalized.join('') !== base.join('') }).toEqual({ extra, changed: true });
      expect(distinct(penalized)).toBeGreaterThan(distinct(base));
    }
    const rewarded = await greedy({ frequency_penalty: -2 });
    expect(rewarded).not.toEqual(base);
    expect(distinct(rewarded)).toBeLessThan(distinct(base));
  });

  it('top_k: 1 makes a hot, seeded sample the greedy answer; without it the same seed samples something else', async () => {
    const argmax = base.slice(0, 24).join('');
    const hot = await sampled();
    expect(hot).not.toBe(argmax);
    expect(await sampled({ top_k: 1 })).toBe(argmax);
    // Some other k changes the same seeded sample too.
    expect(await sampled({ top_k: 3 })).not.toBe(hot);
  });

  it('min_p: 1 keeps only the most likely token (the greedy answer); a smaller min_p changes the seeded sample', async () => {
    const argmax = base.slice(0, 24).join('');
    const hot = await sampled();
    expect(await sampled({ min_p: 1 })).toBe(argmax);
    expect(await sampled({ min_p: 0.3 })).not.toBe(hot);
  });
});
