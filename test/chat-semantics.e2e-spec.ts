/**
 * Full chat semantics end to end on generated tiny models, with the official openai client: tools
 * (forced, named, parallel, in the template's own syntax, streamed), structured output by grammar,
 * n, seed, logit_bias, logprobs, reasoning split, echo, and the token tools. Random weights say
 * nothing sensible, so every assertion is about structure the server must guarantee.
 */
import Ajv from 'ajv';
import OpenAI from 'openai';
import { readGgufHeader, SpmTokenizer, TokenType } from '@switchyard/model-gen';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { readSse, startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(180_000);

let stack: Stack;
let client: OpenAI;
/** logit_bias banning every control token of tiny-chat (the end-of-generation ones among them). */
let noEnd: Record<string, number>;
/** llama.cpp's SPM tokenization of plain text with tiny-chat's own vocabulary, computed here. */
let reference: SpmTokenizer;
let bos: number;
const checkSchemas = openapiAvailable();
const ajv = new Ajv({ strict: false });

const weather: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', enum: ['Paris', 'Oslo', 'Lima'] }, celsius: { type: 'boolean' } },
      required: ['city', 'celsius'],
    },
  },
};
const clock: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { utc: { type: 'boolean' } }, required: ['utc'] } },
};
const schemaOf = (name: string): object => [weather, clock].find((t) => (t as FunctionCall).function.name === name)!.function.parameters!;
const ask: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];

beforeAll(async () => {
  const [tiny, thinking] = await Promise.all([tinyModel('tiny-chat'), tinyModel('tiny-think', { thinking: true })]);
  const md = (await readGgufHeader(tiny)).metadata;
  const types = md['tokenizer.ggml.token_type'] as number[];
  noEnd = Object.fromEntries(types.flatMap((type, id) => (type === TokenType.CONTROL ? [[String(id), -100]] : [])));
  bos = md['tokenizer.ggml.bos_token_id'] as number;
  reference = new SpmTokenizer({ tokens: md['tokenizer.ggml.tokens'] as string[], scores: Float32Array.from(md['tokenizer.ggml.scores'] as number[]), tokenTypes: Int32Array.from(types) });
  stack = await startStack({
    models: [
      { name: 'tiny-chat', path: tiny, parallel: 4, context_size: 2048 },
      { name: 'tiny-think', path: thinking, parallel: 2, context_size: 1024 },
    ],
  });
  client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

/** Raw JSON from the extras and token tools, which the openai client does not type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read arbitrary response JSON
type Json = any;

async function post(path: string, body: object): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

interface FunctionCall {
  type: string;
  id: string;
  function: { name: string; arguments: string };
}

function expectValidCall(call: FunctionCall): void {
  expect(call.type).toBe('function');
  expect(call.id).toMatch(/^call_/);
  const schema = schemaOf(call.function.name);
  const args = JSON.parse(call.function.arguments);
  expect(ajv.validate(schema, args)).toBe(true);
}

describe('tools (e2e)', () => {
  it('tool_choice required gives valid calls, null content and finish_reason tool_calls', async () => {
    const res = await client.chat.completions.create({
      model: 'tiny-chat',
      messages: ask,
      tools: [weather, clock],
      tool_choice: 'required',
      max_tokens: 400,
      seed: 3,
    });
    const choice = res.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls!.length).toBeGreaterThanOrEqual(1);
    for (const call of choice.message.tool_calls!) expectValidCall(call as FunctionCall);
    expect(res.usage!.completion_tokens).toBeGreaterThan(0);
    if (checkSchemas) expect(schemaErrors('CreateChatCompletionResponse', res)).toEqual([]);
  });

  it('parallel calls come with their own indices and ids; parallel_tool_calls false gives exactly one', async () => {
    let sawParallel = false;
    // The random model decides when to close the list of calls (seed 5 makes 11 calls in 658
    // tokens): the limit leaves room for every one of these to end, so each must end in calls.
    for (const seed of [2, 4, 5, 7]) {
      const res = await client.chat.completions.create({ model: 'tiny-chat', messages: ask, tools: [weather, clock], tool_choice: 'required', max_tokens: 1300, seed });
      expect({ seed, finish: res.choices[0].finish_reason, content: res.choices[0].message.content }).toEqual({ seed, finish: 'tool_calls', content: null });
      const calls = res.choices[0].message.tool_calls!;
      for (const call of calls) expectValidCall(call as FunctionCall);
      expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
      if (calls.length > 1) sawParallel = true;
    }
    expect(sawParallel).toBe(true);
    for (const seed of [2, 4]) {
      const single = await client.chat.completions.create({
        model: 'tiny-chat',
        messages: ask,
        tools: [weather, clock],
        tool_choice: 'required',
        parallel_tool_calls: false,
        max_tokens: 300,
        seed,
      });
      expect(single.choices[0].message.tool_calls).toHaveLength(1);
    }
  });

  it('a named function streams as OpenAI streams calls, with usage at the end', async () => {
    const stream = await client.chat.completions.create({
      model: 'tiny-chat',
      messages: ask,
      tools: [weather, clock],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 300,
      stream: true,
      stream_options: { include_usage: true },
    });
    const fragments: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      if (checkSchemas) expect(schemaErrors('CreateChatCompletionStreamResponse', chunk)).toEqual([]);
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        fragments.push(...(c.delta.tool_calls ?? []));
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    expect(finish).toBe('tool_calls');
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    // The first fragment names the call and carries its id; the rest only add argument text.
    expect(fragments[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather' } });
    expect(fragments[0].id).toMatch(/^call_/);
    expect(fragments.slice(1).every((f) => f.id === undefined && f.function?.name === undefined)).toBe(true);
    expect(fragments.length).toBeGreaterThan(2);
    const args = fragments.map((f) => f.function?.arguments ?? '').join('');
    expect(ajv.validate(schemaOf('get_weather'), JSON.parse(args))).toBe(true);
  });

  it("a call the model starts in its template's syntax becomes a tool call (auto)", async () => {
    // The ChatML wrapper writes calls as `||call: name(params)`; a grammar makes this model start one.
    const res = await post('/v1/chat/completions', {
      model: 'tiny-chat',
      messages: ask,
      tools: [weather, clock],
      grammar: 'root ::= "Checking. ||call: get_" [a-z_]*',
      max_tokens: 200,
    });
    expect(res.status).toBe(200);
    const message = res.json.choices[0].message;
    expect(message.content).toBe('Checking. ');
    expect(message.tool_calls).toHaveLength(1);
    expectValidCall(message.tool_calls[0]);
    expect(res.json.choices[0].finish_reason).toBe('tool_calls');
  });

  it('renders the tool round trip through the chat template and answers after it', async () => {
    const history: OpenAI.ChatCompletionMessageParam[] = [
      ...ask,
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","celsius":true}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'SUNNY_21C' },
    ];
    const rendered = await post('/apply-template', { model: 'tiny-chat', messages: history, tools: [weather] });
    expect(rendered.status).toBe(200);
    expect(rendered.json.prompt).toContain('get_weather');
    // The BOS token as the model writes it, not LlamaText's name for it.
    expect(rendered.json.prompt.startsWith('BOS')).toBe(false);
    expect(rendered.json.prompt).toContain('SUNNY_21C');
    expect(rendered.json.prompt.indexOf('get_weather({')).toBeLessThan(rendered.json.prompt.indexOf('SUNNY_21C'));
    // The answer is text, five tokens of it: control tokens are banned, so the random model cannot
    // end its turn early, and none of it may be taken for a call.
    const res = await client.chat.completions.create({ model: 'tiny-chat', messages: history, tools: [weather], max_tokens: 5, temperature: 0, logit_bias: noEnd, logprobs: true });
    expect(res.choices[0].finish_reason).toBe('length');
    expect(res.usage!.completion_tokens).toBe(5);
    expect(res.choices[0].message.tool_calls ?? []).toEqual([]);
    const tokens = res.choices[0].logprobs!.content!.map((t) => t.token);
    expect(tokens).toHaveLength(5);
    expect(res.choices[0].message.content).toBe(tokens.join(''));
  });

  it('rejects a tool message that answers no call, and an unknown named function', async () => {
    const orphan = await post('/v1/chat/completions', { model: 'tiny-chat', messages: [{ role: 'tool', tool_call_id: 'x', content: 'r' }] });
    expect(orphan.status).toBe(400);
    expect(orphan.json.error.param).toBe('messages[0].tool_call_id');
    const named = await post('/v1/chat/completions', {
      model: 'tiny-chat',
      messages: ask,
      tools: [weather],
      tool_choice: { type: 'function', function: { name: 'nope' } },
    });
    expect(named.status).toBe(400);
    expect(named.json.error.param).toBe('tool_choice.function.name');
  });
});

describe('structured output (e2e)', () => {
  const schema = {
    type: 'object',
    properties: {
      ok: { type: 'boolean' },
      size: { type: 'string', enum: ['small', 'large'] },
      tags: { type: 'array', items: { type: 'string', enum: ['a', 'b'] }, maxItems: 3 },
    },
    required: ['ok', 'size', 'tags'],
    additionalProperties: false,
  };

  it.each([1, 2, 3])('json_schema output parses and validates (seed %i)', async (seed) => {
    const res = await client.chat.completions.create({
      model: 'tiny-chat',
      messages: ask,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
      max_tokens: 200,
      seed,
    });
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(ajv.validate(schema, JSON.parse(res.choices[0].message.content!))).toBe(true);
  });

  it('json_object output is a JSON object; a GBNF grammar is obeyed', async () => {
    const obj = await client.chat.completions.create({ model: 'tiny-chat', messages: ask, response_format: { type: 'json_object' }, max_tokens: 300, seed: 1 });
    if (obj.choices[0].finish_reason === 'stop') expect(typeof JSON.parse(obj.choices[0].message.content!)).toBe('object');
    else expect(obj.choices[0].message.content!.startsWith('{')).toBe(true);
    const g = await post('/v1/completions', { model: 'tiny-chat', prompt: 'Answer:', grammar: 'root ::= ("yes" | "no") " " [0-9]{2}', max_tokens: 20 });
    expect(g.json.choices[0].text).toMatch(/^(yes|no) [0-9]{2}$/);
  });

  it('an invalid grammar or an unsupported schema is a 400, not a crash', async () => {
    const bad = await post('/v1/chat/completions', { model: 'tiny-chat', messages: ask, grammar: 'root ::= nothing' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'invalid_grammar', param: 'grammar' });
    const schema = await post('/v1/chat/completions', {
      model: 'tiny-chat',
      messages: ask,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'nonsense' } } },
    });
    expect(schema.status).toBe(400);
    expect(schema.json.error.param).toBe('response_format.json_schema.schema.type');
    const tool = await post('/v1/chat/completions', {
      model: 'tiny-chat',
      messages: ask,
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { oneOf: 5 } } } } }],
      tool_choice: 'required',
    });
    expect(tool.status).toBe(400);
    expect(tool.json.error.param).toBe('tools[0].function.parameters.properties.a.oneOf');
    const ok = await client.chat.completions.create({ model: 'tiny-chat', messages: ask, max_tokens: 2 });
    expect(ok.choices).toHaveLength(1);
  });
});

describe('sampling and choices (e2e)', () => {
  it('n=3 gives three choices, streamed too, each with its own index', async () => {
    const res = await client.chat.completions.create({ model: 'tiny-chat', messages: ask, n: 3, max_tokens: 4 });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const stream = await client.chat.completions.create({ model: 'tiny-chat', messages: ask, n: 3, max_tokens: 4, stream: true });
    const finished = new Set<number>();
    for await (const chunk of stream) for (const c of chunk.choices) if (c.finish_reason) finished.add(c.index);
    expect([...finished].sort()).toEqual([0, 1, 2]);
  });

  it('the same seed reproduces the output; another seed changes it', async () => {
    const run = async (seed: number): Promise<string> =>
      (await client.chat.completions.create({ model: 'tiny-chat', messages: ask, max_tokens: 16, temperature: 1.5, seed })).choices[0].message.content!;
    const a = await run(11);
    expect(await run(11)).toBe(a);
    const others = await Promise.all([12, 13, 14].map(run));
    expect(others.some((o) => o !== a)).toBe(true);
  });

  it('logit_bias -100 removes tokens from the output', async () => {
    const greedy = async (bias?: Record<string, number>): Promise<string[]> => {
      const res = await client.chat.completions.create({ model: 'tiny-chat', messages: ask, max_tokens: 8, temperature: 0, logprobs: true, logit_bias: bias });
      return res.choices[0].logprobs!.content!.map((t) => t.token);
    };
    const first = await greedy();
    const pieces = await post('/tokenize', { model: 'tiny-chat', content: first.join(''), with_pieces: true });
    const banned = pieces.json.tokens as Array<{ id: number; piece: string }>;
    // (Control tokens banned too, so the answer runs to its 8 tokens and the check below sees all of them.)
    const bias = { ...noEnd, ...Object.fromEntries(banned.map((t) => [String(t.id), -100])) };
    const second = await greedy(bias);
    expect(second).toHaveLength(8);
    for (const t of second) expect(banned.map((b) => b.piece)).not.toContain(t);
    const out = await post('/v1/chat/completions', { model: 'tiny-chat', messages: ask, logit_bias: { '999999': -100 } });
    expect(out.status).toBe(400);
    expect(out.json.error.param).toBe('logit_bias');
  });

  it('logprobs are real log probabilities with sorted alternatives, streamed too', async () => {
    const res = await client.chat.completions.create({ model: 'tiny-chat', messages: ask, max_tokens: 6, logprobs: true, top_logprobs: 5 });
    const content = res.choices[0].logprobs!.content!;
    expect(content).toHaveLength(6);
    expect(content.map((c) => c.token).join('')).toBe(res.choices[0].message.content);
    for (const t of content) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.top_logprobs).toHaveLength(5);
      const lps = t.top_logprobs.map((x) => x.logprob);
      expect([...lps].sort((a, b) => b - a)).toEqual(lps);
      expect(Buffer.from(t.bytes!).toString('utf8')).toBe(t.token);
    }
    if (checkSchemas) expect(schemaErrors('CreateChatCompletionResponse', res)).toEqual([]);
    const stream = await client.chat.completions.create({ model: 'tiny-chat', messages: ask, max_tokens: 4, logprobs: true, top_logprobs: 2, stream: true });
    let streamed = 0;
    for await (const chunk of stream) for (const c of chunk.choices) streamed += c.logprobs?.content?.length ?? 0;
    expect(streamed).toBe(4);
  });

  it('top_logprobs agree with the model\'s own next-token distribution (/v1/internal/logits)', async () => {
    const prompt = 'Once upon a time there';
    const res = await client.completions.create({ model: 'tiny-chat', prompt, max_tokens: 1, logprobs: 3, temperature: 0 });
    const fromCompletion = res.choices[0].logprobs!.top_logprobs![0];
    const dist = await post('/v1/internal/logits', { model: 'tiny-chat', prompt, top_logits: 3 });
    expect(Object.keys(fromCompletion)).toEqual(Object.keys(dist.json));
    for (const [token, p] of Object.entries(dist.json as Record<string, number>)) expect(fromCompletion[token]).toBeCloseTo(Math.log(p), 3);
  });

  it('completions: legacy logprobs with text offsets, and echo', async () => {
    const res = await client.completions.create({ model: 'tiny-chat', prompt: 'Once upon a time', max_tokens: 5, logprobs: 3, echo: true, temperature: 0 });
    const c = res.choices[0];
    expect(c.text.startsWith('Once upon a time')).toBe(true);
    const lp = c.logprobs!;
    expect(lp.tokens).toHaveLength(5);
    expect(lp.token_logprobs!.every((x) => x <= 0)).toBe(true);
    expect(lp.top_logprobs!.every((m) => Object.keys(m).length === 3)).toBe(true);
    lp.tokens!.forEach((tok, i) => expect(c.text.slice(lp.text_offset![i], lp.text_offset![i] + tok.length)).toBe(tok));
    if (checkSchemas) expect(schemaErrors('CreateCompletionResponse', res)).toEqual([]);
  });

  it('reports max_tokens clamped to the room left in the context', async () => {
    const r = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-think', messages: ask, max_tokens: 100_000, grammar: 'root ::= "x"' }),
    });
    expect(r.status).toBe(200);
    // The room is the context (1024) less the prompt.
    const promptTokens = ((await r.json()) as Json).usage.prompt_tokens as number;
    expect(promptTokens).toBeGreaterThan(10);
    expect(Number(r.headers.get('x-switchyard-max-tokens-clamped'))).toBe(1024 - promptTokens);
  });
});

describe('reasoning (e2e)', () => {
  // The generated thinking model's template opens `<think>` in the prompt; a grammar makes the
  // random weights close it and answer.
  const grammar = 'root ::= "planning " [a-z]{2,6} "</think>" "\\n\\nanswer " [a-z]{2,6}';

  it('splits reasoning_content from content, with reasoning tokens counted', async () => {
    const res = await post('/v1/chat/completions', { model: 'tiny-think', messages: ask, grammar, max_tokens: 40, reasoning_effort: 'low' });
    expect(res.status).toBe(200);
    const message = res.json.choices[0].message;
    expect(message.reasoning_content).toMatch(/^planning [a-z]{2,6}$/);
    expect(message.content).toMatch(/^answer [a-z]{2,6}$/);
    expect(res.json.usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(res.json.usage.completion_tokens_details.reasoning_tokens).toBeLessThan(res.json.usage.completion_tokens);
  });

  it('streams reasoning as its own deltas before the answer', async () => {
    const r = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-think', messages: ask, grammar, max_tokens: 40, stream: true }),
    });
    const chunks = (await readSse(r)).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
    const deltas = chunks.flatMap((c) => c.choices.map((ch: { delta: Record<string, string> }) => ch.delta));
    const reasoning = deltas.map((d) => d.reasoning_content ?? '').join('');
    const content = deltas.map((d) => d.content ?? '').join('');
    expect(reasoning).toMatch(/^planning [a-z]{2,6}$/);
    expect(content).toMatch(/^answer [a-z]{2,6}$/);
    const lastReasoning = deltas.map((d) => Boolean(d.reasoning_content)).lastIndexOf(true);
    const firstContent = deltas.findIndex((d) => Boolean(d.content));
    expect(lastReasoning).toBeLessThan(firstContent);
  });
});

describe('token tools (e2e)', () => {
  it('tokenize and detokenize round trip (llama.cpp shapes)', async () => {
    const t = await post('/tokenize', { model: 'tiny-chat', content: 'Hello world' });
    expect(t.json.tokens).toEqual(reference.encode('Hello world'));
    const d = await post('/detokenize', { model: 'tiny-chat', tokens: t.json.tokens });
    expect(d.json.content).toBe('Hello world');
  });

  it("text-generation-webui's encode, decode and token-count agree", async () => {
    const e = await post('/v1/internal/encode', { text: 'Once upon a time' });
    // With the BOS token, as the model sees a prompt.
    expect(e.json.tokens).toEqual([bos, ...reference.encode('Once upon a time')]);
    expect(e.json.length).toBe(e.json.tokens.length);
    const c = await post('/v1/internal/token-count', { text: 'Once upon a time' });
    expect(c.json.length).toBe(e.json.length);
    const d = await post('/v1/internal/decode', { tokens: e.json.tokens });
    expect(d.json.text).toBe('<s> Once upon a time');
  });

  it('logits: top next tokens sorted, as probabilities; with samplers top_k limits them', async () => {
    const raw = await post('/v1/internal/logits', { prompt: 'Once upon a', top_logits: 10 });
    const probs = Object.values(raw.json) as number[];
    expect(probs).toHaveLength(10);
    expect([...probs].sort((a, b) => b - a)).toEqual(probs);
    expect(probs.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1.0001);
    const sampled = await post('/v1/internal/logits', { prompt: 'Once upon a', use_samplers: true, top_k: 2, temperature: 1 });
    expect(Object.keys(sampled.json)).toHaveLength(2);
    const sum = (Object.values(sampled.json) as number[]).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 3);
  });

  it('a token id outside the vocabulary is a 400', async () => {
    const d = await post('/detokenize', { model: 'tiny-chat', tokens: [1, 10_000_000] });
    expect(d.status).toBe(400);
    expect(d.json.error.param).toBe('tokens[1]');
  });
});
