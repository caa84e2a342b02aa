/**
 * Hardening of the gateway's edge, end to end (real gateway, worker, Redis, tiny model): bodies with
 * huge objects or arrays, or nested deep, are 400s naming the field and leave the gateway responsive;
 * non-JSON bodies are 415 (no cross-site admin calls); admin ranges and conflicts; a streaming client
 * that stops reading is dropped and its generation aborted; the runner endpoint says nothing to an
 * unauthenticated peer and logs its chosen name capped.
 */
import * as grpc from '@grpc/grpc-js';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { freePort, runnerService, waitUntil, type GatewayMessage, type RunnerGatewayClient } from '@switchyard/runtime';
import { busySlots, startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(300_000);

const MODEL = 'tiny-long';
let stack: Stack;
let grpcPort: number;

beforeAll(async () => {
  const path = await tinyModel('tiny-long', { contextLength: 32768 });
  grpcPort = await freePort();
  stack = await startStack({
    models: [{ name: MODEL, path, parallel: 1, context_size: 32768 }],
    gatewayEnv: { STREAM_STALL_MS: '1000', RUNNER_GRPC_PORT: String(grpcPort), RUNNER_GRPC_HOST: '127.0.0.1', RUNNER_TOKENS: 'rt-edge-token' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

type ErrorBody = { error: { message: string; type: string; param: string | null; code: string | null } };

async function post(path: string, body: string, contentType: string | null = 'application/json', extra: Record<string, string> = {}): Promise<{ status: number; body: ErrorBody }> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: { ...(contentType ? { 'content-type': contentType } : {}), ...extra },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as ErrorBody };
}

const chat = (extra: object): string => JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1, ...extra });
const manyKeys = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), 1]));

const countBusySlots = (): Promise<number> => busySlots(stack);

describe('request bodies (e2e)', () => {
  it.each([
    ['logit_bias', { logit_bias: manyKeys(100_000) }, 'logit_bias'],
    ['an unknown metadata', { metadata: manyKeys(100_000) }, 'metadata'],
  ])('refuses %s with 100k keys as a 400 naming it, and /health stays responsive', async (_what, extra, param) => {
    const body = chat(extra);
    const health: number[] = [];
    let sending = true;
    const probe = (async () => {
      while (sending) {
        const t = Date.now();
        await fetch(`${stack.baseUrl}/health`);
        health.push(Date.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const results = await Promise.all([1, 2, 3].map(() => post('/v1/chat/completions', body)));
    sending = false;
    await probe;
    for (const r of results) {
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ param, code: 'invalid_value', type: 'invalid_request_error' });
    }
    // The old pipe spent seconds per request on this body (quadratic); the bound is loose for busy CI.
    expect(Math.max(...health)).toBeLessThan(2000);
  });

  it('refuses 200k messages, naming messages', async () => {
    const messages = Array.from({ length: 200_000 }, () => ({ role: 'user', content: 'x' }));
    const r = await post('/v1/chat/completions', JSON.stringify({ model: MODEL, messages, max_tokens: 1 }));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ param: 'messages', code: 'invalid_value' });
  });

  it('answers JSON nested 10,000 deep with a 400, not a 500', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const r = await post('/v1/chat/completions', `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"}],"x":${deep}}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_value');
    expect(r.body.error.message).toContain('nested too deeply');
  });

  it('answers a JSON Schema 3,000 deep with a 400 naming the spot', async () => {
    let schema = '{"type":"string"}';
    for (let i = 0; i < 3000; i++) schema = `{"type":"object","properties":{"a":${schema}}}`;
    const r = await post(
      '/v1/chat/completions',
      `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${schema}}}}`,
    );
    expect(r.status).toBe(400);
    expect(r.body.error.param).toMatch(/^response_format\.json_schema\.schema\.properties\.a/);
  });

  it('answers /apply-template with tools [null] with a 400', async () => {
    const r = await post('/apply-template', JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], tools: [null] }));
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('tools');
  });

  it('still serves an ordinary request, from the OpenAI client and with a charset', async () => {
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'none' });
    const res = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, logit_bias: { '5': 1 } });
    expect(res.choices).toHaveLength(1);
    expect((await post('/v1/chat/completions', chat({}), 'application/json; charset=utf-8')).status).toBe(200);
  });
});

describe('non-JSON bodies (e2e)', () => {
  it.each([
    ['text/plain', 'text/plain;charset=UTF-8'],
    ['a form (curl -d without -H)', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['no content type', null],
  ])('refuses %s with 415, and a cross-site POST does not unload the model', async (_what, type) => {
    const r = await post(`/admin/models/${MODEL}/unload`, '{}', type, { origin: 'http://evil.example' });
    expect(r.status).toBe(415);
    expect(r.body.error).toMatchObject({ code: 'unsupported_media_type', type: 'invalid_request_error' });
    const models = (await (await fetch(`${stack.baseUrl}/admin/models`)).json()) as { data: Array<{ id: string; state: string }> };
    expect(models.data.find((m) => m.id === MODEL)?.state).toBe('loaded');
  });
});

describe('admin ranges (e2e)', () => {
  it('a load with args of a model the only worker holds says it is loaded (409), not 503', async () => {
    const r = await post(`/admin/models/${MODEL}/load`, JSON.stringify({ args: { ctx_size: 2048 } }));
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'model_already_loaded', param: 'args' });
    expect(r.body.error.message).toContain('worker-0');
    const named = await post(`/admin/models/${MODEL}/load`, JSON.stringify({ worker: 'worker-0', args: { ctx_size: 2048 } }));
    expect(named.status).toBe(409);
  });

  it('refuses drain_ms beyond its range with a 400, without a timer overflow', async () => {
    const r = await post(`/admin/models/${MODEL}/unload`, JSON.stringify({ drain_ms: 1e308 }));
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('drain_ms');
    expect(stack.logs.join('')).not.toContain('TimeoutOverflowWarning');
    expect((await post(`/admin/models/${MODEL}/load`, JSON.stringify({ args: { threads: 1e308 } }))).body.error.param).toBe('args.threads');
  });
});

describe('a streaming client that stops reading (e2e)', () => {
  it('is dropped after STREAM_STALL_MS and its generation aborted, freeing the slot', async () => {
    // Loopback's kernel buffers take some MB before a write waits: 20 logprobs a token make each
    // chunk large enough for them to fill after a few thousand tokens, long before max_tokens.
    const body = JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: 'Once' }],
      max_tokens: 30000,
      temperature: 0,
      stream: true,
      logprobs: true,
      top_logprobs: 20,
    });
    const port = Number(new URL(stack.baseUrl).port);
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let closed = false;
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.pause();
    await waitUntil(async () => (await countBusySlots()) === 1, 20_000, 'the generation to start', stack.logs);
    // Running to max_tokens takes minutes on this model; a stalled stream is aborted once the
    // buffers are full plus STREAM_STALL_MS.
    await waitUntil(async () => (await countBusySlots()) === 0, 120_000, 'the slot to be freed', stack.logs);
    socket.resume();
    await waitUntil(async () => closed, 20_000, 'the gateway to close the connection', stack.logs);
    const text = Buffer.concat(received).toString();
    expect(text).toContain('HTTP/1.1 200');
    expect(text).not.toContain('data: [DONE]');
    // The slot serves the next request.
    const next = await post('/v1/completions', JSON.stringify({ model: MODEL, prompt: 'Hi', max_tokens: 1 }));
    expect(next.status).toBe(200);
  });
});

describe('runner endpoint before authentication (e2e)', () => {
  it('answers no ping before a hello, and logs a refused name capped and sanitized', async () => {
    const Client = runnerService();
    const client = new Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()) as unknown as RunnerGatewayClient;
    const call = client.Connect();
    const got: GatewayMessage[] = [];
    call.on('data', (m: GatewayMessage) => got.push(m));
    call.on('error', () => undefined);
    try {
      call.write({ kind: 'ping', ping: { at: 1 } });
      call.write({ kind: 'ping', ping: { at: 2 } });
      await new Promise((r) => setTimeout(r, 1500));
      expect(got.filter((m) => m.kind === 'pong')).toHaveLength(0);
      const name = `evil"\n{"level":"error"}${'x'.repeat(100_000)}`;
      call.write({ kind: 'hello', hello: { token: 'rt-wrong', runner_name: name, models: [], version: 'test' } });
      await waitUntil(async () => got.some((m) => m.kind === 'refused'), 10_000, 'the refusal', stack.logs);
      expect(got.find((m) => m.kind === 'refused')).toMatchObject({ refused: { code: 'unauthenticated' } });
      await waitUntil(async () => stack.logs.join('').includes('wrong token'), 5000, 'the refusal in the log', stack.logs);
      const line = stack.logs.join('').split('\n').find((l) => l.includes('wrong token'))!;
      expect(line.length).toBeLessThan(500);
      expect((JSON.parse(line.slice(line.indexOf('{'))) as { name: string }).name).toMatch(/^evil\?\?\?\?level/);
    } finally {
      call.end();
      client.close();
    }
  });
});
