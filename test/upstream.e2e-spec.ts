/**
 * Upstream backend, end to end: a real gateway and upstream worker (separate processes, real Redis
 * and BullMQ) in front of a scripted OpenAI-compatible server on loopback. Clients get the same
 * OpenAI output as from a local model; everything the upstream supports passes through; upstream
 * errors keep their meaning; dead deployments are skipped.
 */
import OpenAI from 'openai';
import Redis from 'ioredis';
import { freePort } from '@switchyard/runtime';
import type { JobEvent } from '@switchyard/contracts';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { readSse, startStack, waitForWorker, type Stack } from './support/stack';

jest.setTimeout(120_000);

type APIError = InstanceType<typeof OpenAI.APIError>;

describe('upstream models (e2e)', () => {
  let fake: FakeOpenAI;
  let stack: Stack;
  let client: OpenAI;
  let redis: Redis;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    const dead = await freePort();
    const entry = (name: string, upstreamModel: string, extra: string[] = []): string[] => [
      `  - name: ${name}`,
      '    backend: upstream',
      `    base_url: ${fake.url}`,
      `    upstream_model: ${upstreamModel}`,
      ...extra,
    ];
    stack = await startStack({
      models: [],
      noWorker: true,
      upstreamWorker: { UPSTREAM_TEST_KEY: 'sk-upstream-secret-42' },
      extraModelsYaml: [
        ...entry('up-chat', 'echo', ['    aliases: ["up-alias"]', '    api_key_env: UPSTREAM_TEST_KEY', '    headers: { "x-team": "e2e" }']),
        ...entry('up-429', 'fail-429'),
        ...entry('up-500', 'fail-500'),
        ...entry('up-400', 'reject-400'),
        ...entry('up-hang', 'hang', ['    connect_timeout: 1s']),
        ...entry('up-slow', 'slow'),
        ...entry('up-reasoner', 'reasoner'),
        ...entry('up-cut', 'cut'),
        '  - name: up-fallback',
        '    backend: upstream',
        '    routing: fallback',
        '    deployments:',
        `      - { base_url: "http://127.0.0.1:${dead}/v1", upstream_model: echo }`,
        `      - { base_url: "${fake.url}", upstream_model: fail-500 }`,
        `      - { base_url: "${fake.url}", upstream_model: echo }`,
        '  - name: up-balance',
        '    backend: upstream',
        '    routing: balance',
        `    base_url: ${fake.url}`,
        '    deployments:',
        '      - { upstream_model: echo, weight: 1 }',
        '      - { upstream_model: fast-3, weight: 1 }',
      ],
    });
    await waitForWorker(stack, ['up-chat', 'up-fallback']);
    client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
    redis = new Redis(stack.redis.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
    await fake?.close();
  });

  /** Events the worker published for jobs started by `run` (read from the per-job replay logs). */
  async function eventsOf(run: () => Promise<unknown>): Promise<JobEvent[][]> {
    const before = new Set(await redis.keys('switchyard:job:*:log'));
    await run();
    const keys = (await redis.keys('switchyard:job:*:log')).filter((k) => !before.has(k));
    return Promise.all(keys.map(async (k) => (await redis.xrange(k, '-', '+')).map(([, f]) => JSON.parse(f[1]) as JobEvent)));
  }

  it('lists upstream models in /v1/models', async () => {
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['up-chat', 'up-fallback', 'up-balance']));
    const m = (await (await fetch(`${stack.baseUrl}/v1/models/up-alias`)).json()) as { id: string; backend: string };
    expect(m).toMatchObject({ id: 'up-alias', backend: 'upstream' });
  });

  it('streams and answers whole through the upstream, with its usage, key and headers', async () => {
    const stream = await client.chat.completions.create({
      model: 'up-alias',
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
      expect(chunk.model).toBe('up-chat');
    }
    expect(text).toBe('echo: one two three');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    const sent = fake.requests.at(-1)!;
    expect(sent.body.model).toBe('echo');
    expect(sent.headers.authorization).toBe('Bearer sk-upstream-secret-42');
    expect(sent.headers['x-team']).toBe('e2e');

    const whole = await client.chat.completions.create({ model: 'up-chat', messages: [{ role: 'user', content: 'a b' }] });
    expect(whole.choices[0].message.content).toBe('echo: a b');
    expect(whole.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 3 });
    if (openapiAvailable()) expect(schemaErrors('CreateChatCompletionResponse', whole)).toEqual([]);
    // The key is never logged.
    expect(stack.logs.join('')).not.toContain('sk-upstream-secret-42');
  });

  it('passes tools, tool messages, image parts, response_format, logprobs and n through', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: [{ type: 'text', text: 'weather here?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_0', content: '{"temp": 3}' },
      { role: 'user', content: 'and in Paris?' },
    ];
    const jobs = await eventsOf(async () => {
      const res = await client.chat.completions.create({ model: 'up-chat', messages, tools, tool_choice: 'auto', stream: true, response_format: { type: 'json_object' }, logprobs: true, top_logprobs: 2 });
      let finish: string | null = null;
      const streamed: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
      for await (const chunk of res) {
        finish = chunk.choices[0]?.finish_reason ?? finish;
        streamed.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      }
      expect(finish).toBe('tool_calls');
      // OpenAI's streamed tool-call shape, as the client library reads it.
      expect(streamed[0]).toMatchObject({ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather' } });
      expect(streamed.map((c) => c.function?.arguments ?? '').join('')).toBe('{"city": "Paris"}');
    });
    const sent = fake.requests.at(-1)!.body;
    expect(sent).toMatchObject({ model: 'echo', stream: true, tools, tool_choice: 'auto', response_format: { type: 'json_object' }, logprobs: true, top_logprobs: 2 });
    expect(sent.messages).toEqual(messages);
    // What the worker emitted: the neutral tool-call deltas the formatter turns into OpenAI's.
    expect(jobs).toHaveLength(1);
    const calls = jobs[0].flatMap((e) => (e.type === 'delta' ? (e.toolCalls ?? []) : []));
    expect(calls[0]).toMatchObject({ index: 0, id: 'call_1', name: 'get_weather' });
    expect(calls.map((c) => c.arguments ?? '').join('')).toBe('{"city": "Paris"}');
    expect(jobs[0].at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' });

    const whole = await client.chat.completions.create({ model: 'up-chat', messages, tools });
    expect(whole.choices[0].finish_reason).toBe('tool_calls');
    expect(whole.choices[0].message.tool_calls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }]);
    if (openapiAvailable()) expect(schemaErrors('CreateChatCompletionResponse', whole)).toEqual([]);

    const reasoned = await client.chat.completions.create({ model: 'up-reasoner', messages: [{ role: 'user', content: 'why' }] });
    expect((reasoned.choices[0].message as { reasoning_content?: string }).reasoning_content).toBe('thinking hard');
    expect(reasoned.choices[0].message.content).toBe('echo: why');

    const withLogprobs = await client.chat.completions.create({ model: 'up-chat', messages: [{ role: 'user', content: 'q' }], logprobs: true, top_logprobs: 2 });
    expect(withLogprobs.choices[0].logprobs?.content?.map((t) => t.token).join('')).toBe('echo: q');
    expect(withLogprobs.choices[0].logprobs?.content?.[0].top_logprobs[1]).toEqual({ token: 'x', logprob: -2, bytes: [120] });

    const lp = await eventsOf(() => client.chat.completions.create({ model: 'up-chat', messages: [{ role: 'user', content: 'x' }], logprobs: true, top_logprobs: 2 }));
    const first = lp[0].find((e) => e.type === 'delta' && e.logprobs);
    expect(first).toMatchObject({ logprobs: [{ token: expect.any(String), logprob: -0.5, top: [expect.anything(), { token: 'x', logprob: -2, bytes: [120] }] }] });

    const n = await client.chat.completions.create({ model: 'up-chat', messages: [{ role: 'user', content: 'hi' }], n: 2, seed: 5 });
    expect(n.choices.map((c) => [c.index, c.message.content])).toEqual([[0, 'echo: hi'], [1, 'echo: hi']]);
    const seeds = fake.requests.slice(-2).map((r) => r.body.seed).sort();
    expect(seeds).toEqual([5, 6]);
    expect(fake.requests.slice(-2).every((r) => r.body.n === undefined)).toBe(true);
  });

  it('passes legacy completions through, echo and logprobs included', async () => {
    const res = await client.completions.create({ model: 'up-chat', prompt: 'p q', echo: true, logprobs: 1, max_tokens: 5 });
    expect(res.choices[0].text).toBe('p qecho: p q');
    expect(fake.requests.at(-1)!.body).toMatchObject({ prompt: 'p q', echo: true, logprobs: 1, max_tokens: 5, model: 'echo' });
    const lines = await readSse(await fetch(`${stack.baseUrl}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up-chat', prompt: ['x', 'y'], stream: true }) }));
    expect(lines.at(-1)).toBe('[DONE]');
    const texts = ['', ''];
    for (const l of lines.slice(0, -1)) {
      const c = JSON.parse(l) as { choices: Array<{ index: number; text: string }> };
      for (const ch of c.choices) texts[ch.index] += ch.text;
    }
    expect(texts).toEqual(['echo: x', 'echo: y']);
  });

  it('keeps the meaning of upstream errors: 429 stays 429, 5xx becomes 502, 400 keeps its message', async () => {
    const err429 = await client.chat.completions.create({ model: 'up-429', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err429).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err429 as APIError).message).toContain('slow down');
    expect((err429 as APIError).headers?.get('retry-after')).toBe('7');
    const err500 = await client.chat.completions.create({ model: 'up-500', messages: [{ role: 'user', content: 'x' }], stream: true }).catch((e: unknown) => e);
    expect((err500 as APIError).status).toBe(502);
    expect((err500 as APIError).code).toBe('upstream_error');
    expect((err500 as APIError).message).toContain('HTTP 500');
    const err400 = await client.chat.completions.create({ model: 'up-400', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err400).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err400 as APIError).param).toBe('tools[0].function.name');
    expect((err400 as APIError).message).toContain('bad name');
  });

  it('times out a hung upstream with 504', async () => {
    const started = Date.now();
    const res = await fetch(`${stack.baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up-hang', messages: [{ role: 'user', content: 'x' }] }) });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_timeout');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('ends a stream broken mid-way with an error event, without retrying', async () => {
    const before = fake.requests.length;
    const lines = await readSse(await fetch(`${stack.baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up-cut', messages: [{ role: 'user', content: 'a b c' }], stream: true }) }));
    const last = JSON.parse(lines.at(-1)!) as { error?: { code: string } };
    expect(last.error?.code).toBe('upstream_disconnected');
    expect(lines.some((l) => l.includes('echo:'))).toBe(true);
    expect(fake.requests.length - before).toBe(1);
  });

  it('falls back past a dead deployment and a failing one', async () => {
    const before = fake.requests.length;
    const res = await client.chat.completions.create({ model: 'up-fallback', messages: [{ role: 'user', content: 'still here' }] });
    expect(res.choices[0].message.content).toBe('echo: still here');
    const tried = fake.requests.slice(before).map((r) => r.body.model);
    // The dead port never reaches the server; fail-500 does, then echo answers. (A deployment that
    // just failed is tried last for a while, so a second request may go straight to echo.)
    expect(tried).toEqual(['fail-500', 'echo']);
  });

  it('balances between deployments', async () => {
    const before = fake.requests.length;
    await Promise.all(Array.from({ length: 16 }, () => client.chat.completions.create({ model: 'up-balance', messages: [{ role: 'user', content: 'z' }] })));
    const used = new Set(fake.requests.slice(before).map((r) => r.body.model));
    expect(used).toEqual(new Set(['echo', 'fast-3']));
  });

  it('passes embeddings through (floats and base64, as the client asks)', async () => {
    const res = await client.embeddings.create({ model: 'up-alias', input: ['abc', 'hello'] });
    expect(res.data.map((d) => d.embedding)).toEqual([
      [3, 0, 0.5, -1],
      [5, 1, 0.5, -1],
    ]);
    expect(res.model).toBe('up-chat');
    expect(res.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    // The openai client asks for base64 and decodes it: the upstream saw that request.
    expect(fake.requests.at(-1)!.body).toMatchObject({ model: 'echo', input: ['abc', 'hello'], encoding_format: 'base64' });
    if (openapiAvailable()) expect(schemaErrors('CreateEmbeddingResponse', { ...res, data: res.data.map((d) => ({ ...d, embedding: d.embedding })) })).toEqual([]);
    const raw = await fetch(`${stack.baseUrl}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up-chat', input: 'xy' }) });
    expect(((await raw.json()) as { data: Array<{ embedding: number[] }> }).data[0].embedding).toEqual([2, 0, 0.5, -1]);
    const failing = await fetch(`${stack.baseUrl}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up-500', input: 'x' }) });
    expect(failing.status).toBe(502);
  });

  it('answers admin load and unload of an upstream model at once', async () => {
    const started = Date.now();
    const unload = await fetch(`${stack.baseUrl}/admin/models/up-chat/unload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unload.status).toBe(400);
    expect(((await unload.json()) as { error: { code: string } }).error.code).toBe('not_unloadable');
    const load = await fetch(`${stack.baseUrl}/admin/models/up-chat/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(load.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await client.chat.completions.create({ model: 'up-chat', messages: [{ role: 'user', content: 'still' }] })).choices[0].message.content).toBe('echo: still');
  });

  it('cancels the upstream request when the client goes away', async () => {
    const abort = new AbortController();
    const res = await fetch(`${stack.baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up-slow', messages: [{ role: 'user', content: 'x' }], stream: true }), signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const record = fake.requests.at(-1)!;
    expect(record.body.model).toBe('slow');
    abort.abort();
    const deadline = Date.now() + 5000;
    while (!record.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(record.aborted).toBe(true);
  });
});
