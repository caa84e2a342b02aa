/**
 * Every error a client can meet, end to end: OpenAI's error object, the right status, and no hung
 * request. Includes API keys, backpressure (429), no worker (503) and a worker dying mid-stream.
 */
import Redis from 'ioredis';
import OpenAI from 'openai';
import { waitUntil } from '@switchyard/runtime';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

const KEY = 'sk-test-key-123456';

async function post(stack: Stack, path: string, body: string | object, headers: Record<string, string> = {}): Promise<{ status: number; json: { error: { message: string; type: string; param: string | null; code: string | null } }; headers: Headers }> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as never, headers: res.headers };
}

function expectErrorShape(json: unknown): void {
  const body = json as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof body.error.message).toBe('string');
  expect(typeof body.error.type).toBe('string');
  for (const k of ['param', 'code']) expect(body.error[k] === null || typeof body.error[k] === 'string').toBe(true);
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
    expectErrorShape(none.json);
    const wrong = await post(stack, '/v1/chat/completions', chat, { authorization: 'Bearer sk-wrong-key-000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe('invalid_api_key');
    expect(wrong.json.error.message).not.toContain('sk-wrong-key-000000');
    expect((await fetch(`${stack.baseUrl}/health`)).status).toBe(200);
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'nope', maxRetries: 0 });
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('400 for malformed JSON', async () => {
    const r = await post(stack, '/v1/chat/completions', '{"model": "tiny-chat", "messages": [');
    expect(r.status).toBe(400);
    expectErrorShape(r.json);
    expect(r.json.error.type).toBe('invalid_request_error');
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
    expectErrorShape(r.json);
    expect(r.json.error.param).toBe(param);
  });

  it('400 for wrong types on completions, and for images sent to a text-only model', async () => {
    const r = await post(stack, '/v1/completions', { model: 'tiny-chat', prompt: { text: 'x' } });
    expect(r.status).toBe(400);
    expect(r.json.error.param).toBe('prompt');
    const img = await post(stack, '/v1/chat/completions', {
      ...chat,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }],
    });
    expect(img.status).toBe(400);
    expect(img.json.error.param).toBe('messages[0].content[0]');
    expect(img.json.error.message).toMatch(/does not accept 'image_url'/);
  });

  it('ignores unknown fields', async () => {
    const r = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ ...chat, some_future_field: { a: 1 }, logit_bias_v9: 3 }),
    });
    expect(r.status).toBe(200);
  });

  it('404 model_not_found for an unknown model, also through the openai client', async () => {
    const r = await post(stack, '/v1/chat/completions', { ...chat, model: 'no-such-model' });
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('model_not_found');
    expect(r.json.error.param).toBe('model');
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: KEY, maxRetries: 0 });
    await expect(client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('413 for a body over the limit', async () => {
    const r = await post(stack, '/v1/completions', { model: 'tiny-chat', prompt: 'x'.repeat(70_000) });
    expect(r.status).toBe(413);
    expectErrorShape(r.json);
  });

  it('400 context_length_exceeded with the numbers, before any stream starts', async () => {
    const long = 'once upon a time '.repeat(200);
    const r = await post(stack, '/v1/chat/completions', { ...chat, messages: [{ role: 'user', content: long }], stream: true });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('context_length_exceeded');
    expect(r.json.error.message).toMatch(/maximum context length is 256 tokens/);
  });

  it('404 in OpenAI shape for an unknown route', async () => {
    const r = await post(stack, '/v1/nothing-here', {});
    expect(r.status).toBe(404);
    expectErrorShape(r.json);
  });
});

describe('capacity errors (e2e)', () => {
  it('503 when no worker serves the model, within the bounded wait', async () => {
    const path = await tinyModel('tiny-chat');
    const stack = await startStack({ models: [{ name: 'tiny-chat', path }], noWorker: true, gatewayEnv: { WORKER_WAIT_MS: '500' } });
    try {
      const started = Date.now();
      const r = await post(stack, '/v1/chat/completions', { model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }] });
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('no_worker_available');
      expect(r.headers.get('retry-after')).toBeTruthy();
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await stack.stop();
    }
  });

  it('429 with Retry-After when the queue is full', async () => {
    // Jobs of a few seconds each, so "one runs, one waits" lasts long enough to be seen on a loaded machine.
    const path = await tinyModel('tiny-long', { contextLength: 32768 });
    const stack = await startStack({ models: [{ name: 'tiny-chat', path, parallel: 1, max_queue: 1, context_size: 4096 }] });
    try {
      const long = { model: 'tiny-chat', prompt: 'Once', max_tokens: 3000, temperature: 0 };
      // One runs, one waits: the queue (max 1 waiting) is then full.
      const running = [post(stack, '/v1/completions', long), post(stack, '/v1/completions', long)];
      // Wait until one runs and one waits (a fixed pause raced the admission on a loaded machine).
      const redis = new Redis(stack.redis.url);
      try {
        // Both jobs queued (one running and one waiting, or both still waiting): room is used up.
        let seen = 'nothing';
        const queued = async (): Promise<boolean> => {
          const [waiting, active] = await Promise.all([redis.llen('switchyard:llm.tiny-chat:wait'), redis.llen('switchyard:llm.tiny-chat:active')]);
          seen = `${waiting} waiting, ${active} active`;
          return waiting + active >= 2;
        };
        await waitUntil(queued, 20_000, 'both jobs in the queue', stack.logs).catch(async (err: Error) => {
          const answers = await Promise.all(running);
          throw new Error(`${err.message.split('\n')[0]} (last seen: ${seen}; answers: ${answers.map((a) => `${a.status} ${JSON.stringify(a.json).slice(0, 200)}`).join(' | ')})`);
        });
      } finally {
        redis.disconnect();
      }
      const r = await post(stack, '/v1/completions', { model: 'tiny-chat', prompt: 'x', max_tokens: 1 });
      expect(r.status).toBe(429);
      expect(r.json.error.code).toBe('queue_full');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const done = await Promise.all(running);
      expect(done.map((d) => d.status)).toEqual([200, 200]);
    } finally {
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
      expect(Date.now() - started).toBeLessThan(20_000);
      const events = body.split('\n\n').filter((b) => b.startsWith('data: '));
      const last = JSON.parse(events[events.length - 1].slice(6)) as { error?: { code: string } };
      expect(last.error?.code).toBe('worker_lost');
      expect(body).not.toContain('[DONE]');
    } finally {
      await stack.stop();
    }
  });
});
