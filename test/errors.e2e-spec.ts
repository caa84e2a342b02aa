/**
 * Every error a client can meet, end to end: OpenAI's error object, the right status, and no hung
 * request. Includes API keys, backpressure (429), no worker (503) and a worker dying mid-stream.
 */
import { Queue } from 'bullmq';
import OpenAI from 'openai';
import { BACKENDS, REDIS_PREFIX } from '@switchyard/contracts';
import { waitUntil } from '@switchyard/runtime';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

const KEY = 'sk-test-key-123456';

interface ErrorObject {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

async function post(
  stack: Stack,
  path: string,
  body: string | object,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<{ status: number; json: { error: ErrorObject }; headers: Headers }> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
  return { status: res.status, json: (await res.json()) as never, headers: res.headers };
}

/**
 * OpenAI's error object exactly: only `error`, only its four fields, each with the value expected
 * (a RegExp for a message whose numbers are not known in advance).
 */
function expectError(json: unknown, expected: { type: string; code: string | null; param: string | null; message: string | RegExp }): void {
  const body = json as { error: ErrorObject };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  const { message, ...rest } = expected;
  expect({ type: body.error.type, code: body.error.code, param: body.error.param }).toEqual(rest);
  if (typeof message === 'string') expect(body.error.message).toBe(message);
  else expect(body.error.message).toMatch(message);
  if (openapiAvailable()) expect(schemaErrors('ErrorResponse', json)).toEqual([]);
}

describe('errors (e2e)', () => {
  let stack: Stack;
  const chat = { model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };

  beforeAll(async () => {
    const path = await tinyModel('tiny-chat');
    stack = await startStack({
      models: [{ name: 'tiny-chat', path, context_size: 256 }],
      gatewayEnv: { API_KEYS: `other-key,${KEY}`, MAX_BODY_BYTES: '65536' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('401 without or with a wrong API key; /health stays open', async () => {
    const none = await post(stack, '/v1/chat/completions', chat, { authorization: '' });
    expect(none.status).toBe(401);
    expectError(none.json, {
      type: 'invalid_request_error',
      code: 'missing_api_key',
      param: null,
      message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    });
    const wrong = await post(stack, '/v1/chat/completions', chat, { authorization: 'Bearer sk-wrong-key-000000' });
    expect(wrong.status).toBe(401);
    // The key is shown masked, as OpenAI does: never in full.
    expectError(wrong.json, { type: 'invalid_request_error', code: 'invalid_api_key', param: null, message: 'Incorrect API key provided: sk-...0000.' });
    expect((await fetch(`${stack.baseUrl}/health`)).status).toBe(200);
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'nope', maxRetries: 0 });
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('400 for malformed JSON', async () => {
    const r = await post(stack, '/v1/chat/completions', '{"model": "tiny-chat", "messages": [');
    expect(r.status).toBe(400);
    expectError(r.json, {
      type: 'invalid_request_error',
      code: 'invalid_json',
      param: null,
      message: 'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.',
    });
  });

  it.each([
    [{ ...chat, temperature: 'hot' }, 'temperature'],
    [{ ...chat, max_tokens: 1.5 }, 'max_tokens'],
    [{ ...chat, messages: 'hi' }, 'messages'],
    [{ ...chat, messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
    [{ ...chat, messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    [{ ...chat, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    [{ ...chat, stream: 'yes' }, 'stream'],
    [{ messages: chat.messages }, 'model'],
  ])('400 with param for %j', async (body, param) => {
    const r = await post(stack, '/v1/chat/completions', body);
    expect(r.status).toBe(400);
    expectError(r.json, { type: 'invalid_request_error', code: 'invalid_value', param, message: new RegExp(`^Invalid '${param.replace(/[[\].]/g, '\\$&')}': .+\\.$`) });
  });

  it('400 for wrong types on completions, and for images sent to a text-only model', async () => {
    const r = await post(stack, '/v1/completions', { model: 'tiny-chat', prompt: { text: 'x' } });
    expect(r.status).toBe(400);
    expectError(r.json, { type: 'invalid_request_error', code: 'invalid_value', param: 'prompt', message: /^Invalid 'prompt': .+\.$/ });
    const img = await post(stack, '/v1/chat/completions', {
      ...chat,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }],
    });
    expect(img.status).toBe(400);
    expect(img.json.error).toMatchObject({ type: 'invalid_request_error', param: 'messages[0].content[0]' });
    expect(img.json.error.message).toMatch(/does not accept 'image_url'/);
  });

  it('ignores unknown fields', async () => {
    const answer = async (body: object): Promise<{ status: number; json: { choices: unknown; usage: unknown } }> => {
      const r = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify(body),
      });
      return { status: r.status, json: (await r.json()) as never };
    };
    // Greedy, so the same request gives the same answer: the unknown fields change nothing.
    const plain = await answer({ ...chat, temperature: 0 });
    const extra = await answer({ ...chat, temperature: 0, some_future_field: { a: 1 }, logit_bias_v9: 3 });
    expect(plain.status).toBe(200);
    expect(extra.status).toBe(200);
    expect(extra.json.choices).toEqual(plain.json.choices);
    expect(extra.json.usage).toMatchObject({ completion_tokens: (plain.json.usage as { completion_tokens: number }).completion_tokens });
  });

  it('404 model_not_found for an unknown model, also through the openai client', async () => {
    const r = await post(stack, '/v1/chat/completions', { ...chat, model: 'no-such-model' });
    expect(r.status).toBe(404);
    expectError(r.json, {
      type: 'invalid_request_error',
      code: 'model_not_found',
      param: 'model',
      message: "The model 'no-such-model' does not exist or you do not have access to it.",
    });
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: KEY, maxRetries: 0 });
    await expect(client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('413 for a body over the limit', async () => {
    const r = await post(stack, '/v1/completions', { model: 'tiny-chat', prompt: 'x'.repeat(70_000) });
    expect(r.status).toBe(413);
    expectError(r.json, { type: 'invalid_request_error', code: 'request_too_large', param: null, message: 'Request body is too large.' });
  });

  it('400 context_length_exceeded with the numbers, before any stream starts', async () => {
    const long = 'once upon a time '.repeat(200);
    const r = await post(stack, '/v1/chat/completions', { ...chat, messages: [{ role: 'user', content: long }], stream: true });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expectError(r.json, {
      type: 'invalid_request_error',
      code: 'context_length_exceeded',
      param: 'messages',
      message: /^This model's maximum context length is 256 tokens\. However, your prompt has \d+ tokens, leaving no room for a completion\.$/,
    });
  });

  it('404 in OpenAI shape for an unknown route', async () => {
    const r = await post(stack, '/v1/nothing-here', {});
    expect(r.status).toBe(404);
    expectError(r.json, { type: 'invalid_request_error', code: 'unknown_url', param: null, message: 'Unknown request URL: POST /v1/nothing-here.' });
  });
});

describe('capacity errors (e2e)', () => {
  it('503 when no worker serves the model, within the bounded wait', async () => {
    const path = await tinyModel('tiny-chat');
    const stack = await startStack({ models: [{ name: 'tiny-chat', path }], noWorker: true, gatewayEnv: { WORKER_WAIT_MS: '500' } });
    try {
      const started = Date.now();
      const r = await post(stack, '/v1/chat/completions', { model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }] });
      const took = Date.now() - started;
      expect(r.status).toBe(503);
      expectError(r.json, {
        type: 'server_error',
        code: 'no_worker_available',
        param: null,
        message: "No worker is serving the model 'tiny-chat' right now. Try again later.",
      });
      expect(r.headers.get('retry-after')).toBe('5');
      // It waited its bound for a worker to appear, and no more than that (plus a generous margin
      // for a loaded machine; unbounded, it would wait for the queue timeout, with another code).
      expect(took).toBeGreaterThanOrEqual(500);
      expect(took).toBeLessThan(15_000);
    } finally {
      await stack.stop();
    }
  });

  it('429 with Retry-After when the queue is full', async () => {
    const path = await tinyModel('tiny-long', { contextLength: 32768 });
    const stack = await startStack({ models: [{ name: 'tiny-chat', path, parallel: 1, max_queue: 1, context_size: 32768 }] });
    // The gateway's own queue for the model: BullMQ's counts of what runs and what waits.
    const queue = new Queue(BACKENDS['llama.cpp'].queueName('tiny-chat'), { connection: { host: '127.0.0.1', port: stack.redis.port }, prefix: REDIS_PREFIX });
    const first = new AbortController();
    try {
      // A full-context generation (many seconds) holds the only slot until its client leaves, so the
      // queue stays full for as long as the test needs, however slow the machine.
      const running = post(stack, '/v1/completions', { model: 'tiny-chat', prompt: 'Once', max_tokens: 30000, temperature: 0 }, {}, first.signal).catch((e: Error) => e);
      let counts: Record<string, number> = {};
      const seen = (want: { active: number; waiting: number }) => async (): Promise<boolean> => {
        counts = await queue.getJobCounts('active', 'waiting');
        return counts.active === want.active && counts.waiting === want.waiting;
      };
      const reached = (what: string, want: { active: number; waiting: number }): Promise<void> =>
        waitUntil(seen(want), 30_000, what, stack.logs).catch((err: Error) => {
          throw new Error(`${err.message.split('\n')[0]} (last seen: ${JSON.stringify(counts)})`);
        });
      await reached('the first job to run', { active: 1, waiting: 0 });
      // One waits behind it: the queue (max 1 waiting) is then full.
      const queued = post(stack, '/v1/completions', { model: 'tiny-chat', prompt: 'Once', max_tokens: 4, temperature: 0 }).catch((e: Error) => e);
      await reached('the second job to wait', { active: 1, waiting: 1 });
      // Answered at once; the bound only turns a request wrongly queued behind the long one into a
      // clear failure rather than a test timeout.
      const r = await post(stack, '/v1/completions', { model: 'tiny-chat', prompt: 'x', max_tokens: 1 }, {}, AbortSignal.timeout(60_000)).catch(async (err: Error) => {
        const held = await queue.getJobCounts('active', 'waiting');
        throw new Error(`no answer within 60 s to the request over capacity (${err.name}): it was queued behind the running job, not refused (after giving up: ${held.active} active, ${held.waiting} waiting)`);
      });
      expect(r.status).toBe(429);
      expectError(r.json, {
        type: 'rate_limit_error',
        code: 'queue_full',
        param: null,
        message: /^The model 'tiny-chat' is at capacity \(1 requests? waiting\)\. Retry after a short wait\.$/,
      });
      // ceil(1 waiting / 4), at least 1.
      expect(r.headers.get('retry-after')).toBe('1');
      // Refused, not queued: the queue holds just the two admitted jobs.
      expect(await queue.getJobCounts('active', 'waiting')).toMatchObject({ active: 1, waiting: 1 });
      // The admitted ones are unharmed: the waiting one is served once the first's client leaves.
      first.abort();
      expect(await running).toHaveProperty('name', 'AbortError');
      const done = await queued;
      if (done instanceof Error) throw done;
      expect(done.status).toBe(200);
      expect(done.json).toMatchObject({ choices: [{ finish_reason: 'length' }], usage: { completion_tokens: 4 } });
    } finally {
      first.abort();
      await queue.close();
      await stack.stop();
    }
  });

  it('ends a stream with an error event, not a hang, when its worker dies mid-stream', async () => {
    const path = await tinyModel('tiny-long', { contextLength: 32768 });
    const stack = await startStack({ models: [{ name: 'tiny-long', path, parallel: 1, context_size: 32768 }] });
    try {
      const res = await fetch(`${stack.baseUrl}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny-long', prompt: 'Once', max_tokens: 30000, temperature: 0, stream: true }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let body = '';
      const first = await reader.read();
      body += decoder.decode(first.value);
      stack.worker!.kill('SIGKILL');
      const started = Date.now();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        body += decoder.decode(value);
      }
      // The gateway notices within its idle check plus the heartbeat's expiry (about 8 s); the
      // bound is generous for a loaded machine, the failure it guards against being a hang.
      expect(Date.now() - started).toBeLessThan(30_000);
      const events = body.split('\n\n').filter((b) => b.startsWith('data: '));
      // Text was streamed before the worker died, then one error event ends the stream.
      expect(JSON.parse(events[0].slice(6))).toMatchObject({ object: 'text_completion', choices: [{ index: 0, finish_reason: null }] });
      const last = JSON.parse(events[events.length - 1].slice(6)) as unknown;
      expectError(last, { type: 'server_error', code: 'worker_lost', param: null, message: 'The worker serving this request stopped responding.' });
      expect(body).not.toContain('[DONE]');
    } finally {
      await stack.stop();
    }
  });
});
