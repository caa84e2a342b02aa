/**
 * The upstream client and router against a real HTTP server (the test suite's scripted fake OpenAI
 * server): chunks → neutral events, error mapping, timeouts, cancellation, fallback and balancing.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UpstreamDeployment, UpstreamModelDescriptor } from '@switchyard/contracts';
import { freePort, waitUntil } from '@switchyard/runtime';
import { startFakeOpenAI, type FakeOpenAI } from '../../../tools/fake-openai';
import type { UpstreamDelta } from './chunk-translator';
import { callUpstream } from './upstream-client';
import { parseRetryAfter, UpstreamFailure } from './upstream-failure';
import { COOLDOWN_MS, UpstreamRouter } from './upstream-router';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});

function dep(model: string, extra: Partial<UpstreamDeployment> = {}): UpstreamDeployment {
  return { baseUrl: fake.url, model, connectTimeoutMs: 2000, idleTimeoutMs: 2000, headers: {}, weight: 1, stream: true, includeUsage: true, ...extra };
}

async function call(deployment: UpstreamDeployment, body: Record<string, unknown>, endpoint: 'chat' | 'completions' = 'chat', signal = new AbortController().signal) {
  const deltas: UpstreamDelta[] = [];
  const result = await callUpstream({ deployment, endpoint, body, signal, sink: { delta: (d) => deltas.push(d) }, label: 'm' });
  return { result, deltas, text: deltas.map((d) => d.text).join('') };
}

const hello = { messages: [{ role: 'user', content: 'hello there world' }] };

describe('callUpstream', () => {
  it('streams text deltas and reports the upstream usage', async () => {
    const { result, text, deltas } = await call(dep('echo'), hello);
    expect(text).toBe('echo: hello there world');
    expect(deltas.length).toBe(4);
    expect(result).toEqual({ finishReason: 'stop', usage: { promptTokens: 3, completionTokens: 4 }, aborted: false });
    const sent = fake.requests.at(-1)!;
    expect(sent.body).toMatchObject({ model: 'echo', stream: true, stream_options: { include_usage: true } });
    // Without usage from the upstream, completion tokens are counted from the chunks.
    const bare = await call(dep('echo', { includeUsage: false }), hello);
    expect(fake.requests.at(-1)!.body.stream_options).toBeUndefined();
    expect(bare.result.usage).toEqual({ promptTokens: 0, completionTokens: 4 });
  });

  it('turns streamed tool calls into tool-call deltas (id and name first, then argument fragments)', async () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }];
    const { result, deltas } = await call(dep('echo'), { ...hello, tools });
    const calls = deltas.flatMap((d) => d.toolCalls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'call_1', name: 'lookup', arguments: '' });
    expect(calls.map((c) => c.arguments ?? '').join('')).toBe('{"city": "Paris"}');
    expect(result.finishReason).toBe('tool_calls');
    expect(fake.requests.at(-1)!.body.tools).toEqual(tools);
  });

  it('reads a non-streamed response (stream: false deployments) into the same events', async () => {
    const tools = [{ type: 'function', function: { name: 'lookup' } }];
    const { result, deltas } = await call(dep('echo', { stream: false }), { ...hello, tools });
    expect(deltas).toEqual([{ text: '', toolCalls: [{ index: 0, id: 'call_1', name: 'lookup', arguments: '{"city":"Paris"}' }] }]);
    expect(result.finishReason).toBe('tool_calls');
    expect(fake.requests.at(-1)!.body.stream).toBe(false);
    expect(fake.requests.at(-1)!.body.stream_options).toBeUndefined();
  });

  it('passes reasoning and log probabilities through (chat and legacy layouts)', async () => {
    const r = await call(dep('reasoner'), hello);
    expect(r.deltas.map((d) => d.reasoning ?? '').join('')).toBe('thinking hard');
    const lp = await call(dep('echo'), { ...hello, logprobs: true, top_logprobs: 2 });
    expect(lp.deltas[0].logprobs).toEqual([{ token: 'echo:', logprob: -0.5, bytes: [...Buffer.from('echo:')], top: [{ token: 'echo:', logprob: -0.5, bytes: [...Buffer.from('echo:')] }, { token: 'x', logprob: -2, bytes: [120] }] }]);
    const legacy = await call(dep('echo'), { prompt: 'a b', logprobs: 2 }, 'completions');
    expect(legacy.text).toBe('echo: a b');
    expect(legacy.deltas[1].logprobs).toEqual([{ token: ' a', logprob: -0.5, bytes: [...Buffer.from(' a')], top: [{ token: ' a', logprob: -0.5, bytes: [...Buffer.from(' a')] }, { token: 'x', logprob: -2, bytes: [120] }] }]);
  });

  it('sends the API key from the named environment variable and the extra headers', async () => {
    await callUpstream({ deployment: dep('echo', { apiKeyEnv: 'FAKE_KEY', headers: { 'x-org': 'acme' } }), endpoint: 'chat', body: hello, signal: new AbortController().signal, sink: { delta: () => undefined }, label: 'm', env: { FAKE_KEY: 'sk-upstream-1' } });
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-upstream-1');
    expect(fake.requests.at(-1)!.headers['x-org']).toBe('acme');
    await expect(call(dep('echo', { apiKeyEnv: 'SWITCHYARD_SURELY_UNSET_KEY' }), hello)).rejects.toMatchObject({ code: 'upstream_misconfigured' });
  });

  it.each([
    ['fail-429', 429, 'rate_limit_error', true],
    ['fail-500', 502, 'server_error', true],
    ['reject-400', 400, 'invalid_request_error', false],
  ])('maps upstream %s to %i %s (retryable: %s)', async (model, status, type, retryable) => {
    const err = (await call(dep(model), hello).catch((e: unknown) => e)) as UpstreamFailure;
    expect(err).toBeInstanceOf(UpstreamFailure);
    expect(err.status).toBe(status);
    expect(err.errorType).toBe(type);
    expect(err.retryable).toBe(retryable);
    if (model === 'fail-429') expect(err.retryAfterSeconds).toBe(7);
    if (model === 'reject-400') {
      expect(err.message).toBe("Invalid 'tools[0].function.name': bad name.");
      expect(err.param).toBe('tools[0].function.name');
    }
  });

  it('fails clearly on a dead port, a hung upstream, a stalled stream and a cut connection', async () => {
    const dead = await freePort();
    await expect(call(dep('echo', { baseUrl: `http://127.0.0.1:${dead}/v1` }), hello)).rejects.toMatchObject({ status: 502, code: 'upstream_unreachable', retryable: true });
    await expect(call(dep('hang', { connectTimeoutMs: 300 }), hello)).rejects.toMatchObject({ status: 504, code: 'upstream_timeout' });
    await expect(call(dep('stall', { idleTimeoutMs: 300 }), hello)).rejects.toMatchObject({ status: 504, code: 'upstream_timeout' });
    await expect(call(dep('cut'), hello)).rejects.toMatchObject({ status: 502, code: 'upstream_disconnected' });
  });

  it('stops the upstream request when aborted', async () => {
    const abort = new AbortController();
    const deltas: UpstreamDelta[] = [];
    let settled = false;
    const running = callUpstream({ deployment: dep('slow'), endpoint: 'chat', body: hello, signal: abort.signal, sink: { delta: (d) => deltas.push(d) }, label: 'm' });
    void running.finally(() => (settled = true)).catch(() => undefined);
    // A call that ends early (an error) fails here at once, not at the jest timeout.
    await waitUntil(async () => deltas.length >= 2 || settled, 30_000, 'two deltas');
    expect(settled).toBe(false);
    abort.abort();
    const result = await running;
    expect(result.aborted).toBe(true);
    // 'slow' streams "w0 w1 ... w99": the abort came before the end.
    expect(deltas.map((d) => d.text).join('')).toMatch(/^w0 w1/);
    expect(deltas.length).toBeLessThan(100);
    const record = fake.requests.at(-1)!;
    expect(record.body.model).toBe('slow');
    await waitUntil(async () => record.aborted, 30_000, 'the upstream to see the client go');
  });
});

describe('SSE parsing', () => {
  it('reads CRLF separators, comments, events split across network writes, and a mid-stream error', async () => {
    const chunk = (content: string, finish: string | null = null): string =>
      JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: finish }] });
    const wire = [`: keep-alive\r\n\r\n`, `data: ${chunk('Hel')}\r\n\r\nda`, `ta: ${chunk('lo')}\r`, `\n\r\n`, `event: x\ndata: ${chunk('!', 'length')}\n\n`, 'data: [DONE]\n\n'];
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const next = (i: number): void => {
        if (i === wire.length) return void res.end();
        res.write(wire[i]);
        setTimeout(() => next(i + 1), 10);
      };
      req.resume();
      next(0);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const { text, result } = await call(dep('m', { baseUrl: `http://127.0.0.1:${port}/v1` }), hello);
      expect(text).toBe('Hello!');
      expect(result.finishReason).toBe('length');
      // No usage from this server: completion tokens are counted from the chunks.
      expect(result.usage.completionTokens).toBe(3);
    } finally {
      server.close();
    }
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and ignores nonsense', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:12 GMT', now)).toBe(12);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('999999', now)).toBeUndefined();
  });
});

describe('UpstreamRouter', () => {
  function model(deployments: UpstreamDeployment[], routing: 'fallback' | 'balance' = 'fallback'): UpstreamModelDescriptor {
    return { name: 'm', aliases: [], backend: 'upstream', deployments, routing, concurrency: 4, contextSize: 0, maxQueue: 10, autoLoad: false, preload: true, keepAliveMs: -1, created: 0, ownedBy: 'x' };
  }

  it('falls back past a dead deployment, a 429 and a 500 to one that answers', async () => {
    const dead = await freePort();
    const router = new UpstreamRouter(model([dep('echo', { baseUrl: `http://127.0.0.1:${dead}/v1` }), dep('fail-429'), dep('fail-500'), dep('echo')]));
    const deltas: UpstreamDelta[] = [];
    const result = await router.run('chat', hello, { delta: (d) => deltas.push(d) }, new AbortController().signal);
    expect(deltas.map((d) => d.text).join('')).toBe('echo: hello there world');
    expect(result.deployment.model).toBe('echo');
  });

  it('does not fall back on a client error, nor after tokens were streamed', async () => {
    const before = fake.requests.length;
    const router = new UpstreamRouter(model([dep('reject-400'), dep('echo')]));
    await expect(router.run('chat', hello, { delta: () => undefined }, new AbortController().signal)).rejects.toMatchObject({ status: 400 });
    const cut = new UpstreamRouter(model([dep('cut'), dep('echo')]));
    const deltas: UpstreamDelta[] = [];
    await expect(cut.run('chat', hello, { delta: (d) => deltas.push(d) }, new AbortController().signal)).rejects.toMatchObject({ code: 'upstream_disconnected' });
    expect(deltas.map((d) => d.text).join('')).toBe('echo: hello');
    // reject-400 and cut were each called once; echo never.
    expect(fake.requests.slice(before).map((r) => r.body.model)).toEqual(['reject-400', 'cut']);
  });

  it('balances by weight', () => {
    let r = 0;
    const seq = [0.1, 0.5, 0.9, 0.3];
    const router = new UpstreamRouter(model([dep('a', { weight: 1 }), dep('b', { weight: 3 })], 'balance'), undefined, () => seq[r++ % seq.length]);
    const firsts = [router.order()[0], router.order()[0], router.order()[0], router.order()[0]];
    // weight 1 of 4 → a when the draw is under 0.25.
    expect(firsts).toEqual([0, 1, 1, 1]);
  });

  it('tries a deployment that just failed (retryably) last for 10 s, and one refused by a client error still first', async () => {
    expect(COOLDOWN_MS).toBe(10_000);
    let t = 1000;
    const router = new UpstreamRouter(model([dep('fail-500'), dep('echo'), dep('reasoner')]), undefined, Math.random, () => t);
    const models = async (): Promise<unknown[]> => {
      const before = fake.requests.length;
      await router.run('chat', hello, { delta: () => undefined }, new AbortController().signal);
      return fake.requests.slice(before).map((r) => r.body.model);
    };
    expect(router.order()).toEqual([0, 1, 2]);
    // A real 500: the request falls back to echo, and fail-500 goes to the back.
    expect(await models()).toEqual(['fail-500', 'echo']);
    expect(router.order()).toEqual([1, 2, 0]);
    t += COOLDOWN_MS - 1;
    expect(await models()).toEqual(['echo']);
    // The cool-down runs from the failure (a later success elsewhere does not extend it).
    t += 1;
    expect(router.order()).toEqual([0, 1, 2]);
    expect(await models()).toEqual(['fail-500', 'echo']);
    expect(router.order()).toEqual([1, 2, 0]);

    // A 400 is the request's fault, not the deployment's: it is not tried last afterwards.
    const strict = new UpstreamRouter(model([dep('reject-400'), dep('echo')]), undefined, Math.random, () => t);
    await expect(strict.run('chat', hello, { delta: () => undefined }, new AbortController().signal)).rejects.toMatchObject({ status: 400 });
    expect(strict.order()).toEqual([0, 1]);
  });
});
