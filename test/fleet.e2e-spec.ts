/**
 * The live fleet end to end: admin API (REST and text-generation-webui paths) with its keys,
 * on-demand loading, keep-alive unloading, and load/unload while requests run.
 */
import OpenAI from 'openai';
import { readSse, startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(180_000);

const USER = 'sk-user-0000000001';
const ADMIN = 'sk-admin-000000001';

let stack: Stack;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- admin and OpenAI bodies of many shapes
type Json = any;

async function call(method: string, path: string, key: string | null, body?: object): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}\n${stack.logs.join('')}`);
}

async function modelState(id: string): Promise<string> {
  const r = await call('GET', '/admin/models', ADMIN);
  return (r.json.data as Array<{ id: string; state: string }>).find((m) => m.id === id)!.state;
}

beforeAll(async () => {
  const tiny = await tinyModel('tiny-chat');
  const long = await tinyModel('tiny-long', { contextLength: 32768 });
  stack = await startStack({
    models: [
      { name: 'resident', path: tiny, parallel: 2 },
      { name: 'lazy', path: tiny, preload: false, keep_alive: '1s' },
      { name: 'manual', path: tiny, preload: false, auto_load: false },
      { name: 'long', path: long, context_size: 32768, parallel: 1, preload: false },
      { name: 'missing', path: '/nonexistent/model.gguf', preload: false },
    ],
    gatewayEnv: { API_KEYS: USER, ADMIN_KEYS: ADMIN },
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('admin API auth (e2e)', () => {
  // Every row has three entries: jest reads a test function with more parameters than the row as
  // one that takes a `done` callback.
  const routes: Array<[string, string, object | undefined]> = [
    ['GET', '/admin/workers', undefined],
    ['GET', '/admin/models', undefined],
    ['POST', '/admin/models/manual/load', {}],
    ['POST', '/admin/models/manual/unload', {}],
    ['GET', '/v1/internal/model/list', undefined],
    ['GET', '/v1/internal/model/info', undefined],
    ['POST', '/v1/internal/model/load', { model_name: 'manual' }],
    ['POST', '/v1/internal/model/unload', { model_name: 'manual' }],
  ];
  it.each(routes)('%s %s: 401 without a key, 403 with a user key', async (method, path, body) => {
    const none = await call(method, path, null, body);
    expect(none.status).toBe(401);
    const user = await call(method, path, USER, body);
    expect(user.status).toBe(403);
    expect(user.json.error).toMatchObject({ type: 'permission_error', code: 'admin_key_required' });
  });

  it('admin keys also work on the OpenAI API', async () => {
    expect((await call('GET', '/v1/models', ADMIN)).status).toBe(200);
  });
});

describe('fleet (e2e)', () => {
  it('lists workers with their models, slots and memory', async () => {
    const r = await call('GET', '/admin/workers', ADMIN);
    expect(r.status).toBe(200);
    expect(r.json.data).toHaveLength(1);
    const w = r.json.data[0];
    expect(w).toMatchObject({ id: 'worker-0', backend: 'llama.cpp' });
    expect(w.free_memory).toBeGreaterThan(0);
    expect(w.servable).toEqual(expect.arrayContaining(['resident', 'lazy', 'manual']));
    expect(w.models).toEqual([expect.objectContaining({ id: 'resident', state: 'ready', slots: 2, busy: 0 })]);
  });

  it('/v1/models lists what is servable now, with its state', async () => {
    const r = await call('GET', '/v1/models', USER);
    const byId = Object.fromEntries((r.json.data as Array<{ id: string; state: string }>).map((m) => [m.id, m.state]));
    expect(byId).toEqual({ resident: 'loaded', lazy: 'available', long: 'available', missing: 'available' });
    expect((await call('GET', '/v1/models/manual', USER)).status).toBe(404);
    expect((await call('GET', '/v1/models/lazy', USER)).json).toMatchObject({ id: 'lazy', object: 'model', state: 'available' });
  });

  it('loads a model on demand for a request, then unloads it after its keep-alive', async () => {
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: USER, maxRetries: 0 });
    const res = await client.completions.create({ model: 'lazy', prompt: 'Once upon a time', max_tokens: 5 });
    expect(res.usage!.completion_tokens).toBe(5);
    expect(await modelState('lazy')).toBe('loaded');
    await until('lazy to unload after keep_alive 1s', async () => ((await modelState('lazy')) === 'available' ? true : undefined), 10_000);
  });

  it("does not let a request's keep_alive of 0 unload a shared model (unloading is the admin API's)", async () => {
    const r = await call('POST', '/v1/completions', USER, { model: 'resident', prompt: 'x', max_tokens: 2, keep_alive: 0 });
    expect(r.status).toBe(200);
    // Idle checks run every second, heartbeats every 2 s.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await modelState('resident')).toBe('loaded');
  });

  it('a request right after an unload is served by loading the model again, not left in an unread queue', async () => {
    const load = await call('POST', '/admin/models/lazy/load', ADMIN, {});
    expect(load.status).toBe(200);
    // No pause: the gateway's view of the fleet may still say 'loaded' when the request is queued.
    expect((await call('POST', '/admin/models/lazy/unload', ADMIN, {})).status).toBe(200);
    const started = Date.now();
    const r = await call('POST', '/v1/completions', USER, { model: 'lazy', prompt: 'x', max_tokens: 2 });
    expect(r.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('does not auto-load a model marked auto_load: false (503), but the admin can load it with args', async () => {
    const denied = await call('POST', '/v1/completions', USER, { model: 'manual', prompt: 'x', max_tokens: 1 });
    expect(denied.status).toBe(503);
    expect(denied.json.error.code).toBe('no_worker_available');
    const load = await call('POST', '/admin/models/manual/load', ADMIN, { args: { ctx_size: 512, parallel: 3 } });
    expect(load.status).toBe(200);
    expect(load.json).toMatchObject({ id: 'manual', state: 'loaded', worker: 'worker-0' });
    expect(load.json.load_ms).toBeGreaterThanOrEqual(0);
    const w = (await call('GET', '/admin/workers', ADMIN)).json.data[0];
    expect(w.models.find((m: { id: string }) => m.id === 'manual')).toMatchObject({ state: 'ready', context_size: 512, slots: 3 });
    expect((await call('POST', '/v1/completions', USER, { model: 'manual', prompt: 'x', max_tokens: 1 })).status).toBe(200);
    const unload = await call('POST', '/admin/models/manual/unload', ADMIN, {});
    expect(unload.json).toMatchObject({ id: 'manual', state: 'unloaded', workers: ['worker-0'] });
    expect(await modelState('manual')).toBe('unavailable');
  });

  it('answers load errors clearly and keeps the worker up', async () => {
    const missing = await call('POST', '/admin/models/missing/load', ADMIN, {});
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe('model_file_missing');
    const unknown = await call('POST', '/admin/models/nope/load', ADMIN, {});
    expect(unknown.status).toBe(404);
    const bad = await call('POST', '/admin/models/manual/load', ADMIN, { args: { ctx_size: 'big' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('args.ctx_size');
    const notLoaded = await call('POST', '/admin/models/manual/unload', ADMIN, {});
    expect(notLoaded.status).toBe(404);
    expect(notLoaded.json.error.code).toBe('model_not_loaded');
    expect(stack.worker!.exitCode).toBeNull();
    expect((await call('POST', '/v1/completions', USER, { model: 'resident', prompt: 'x', max_tokens: 1 })).status).toBe(200);
  });

  it("speaks text-generation-webui's model paths", async () => {
    expect((await call('GET', '/v1/internal/model/list', ADMIN)).json.model_names).toEqual(['resident', 'lazy', 'manual', 'long', 'missing']);
    const load = await call('POST', '/v1/internal/model/load', ADMIN, { model_name: 'manual', args: { ctx_size: 256 } });
    expect(load).toEqual({ status: 200, json: 'OK' });
    const info = await call('GET', '/v1/internal/model/info', ADMIN);
    expect(info.json.loaded_models).toEqual(expect.arrayContaining(['manual', 'resident']));
    expect(typeof info.json.model_name).toBe('string');
    expect(await call('POST', '/v1/internal/model/unload', ADMIN, { model_name: 'manual' })).toEqual({ status: 200, json: 'OK' });
    expect(await modelState('manual')).toBe('unavailable');
  });

  it('unloading drains running requests for a bounded time, then ends them with a clear error', async () => {
    const res = await fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${USER}` },
      body: JSON.stringify({ model: 'long', prompt: 'Once', max_tokens: 30000, temperature: 0, stream: true }),
    });
    expect(res.status).toBe(200);
    const reading = readSse(res);
    const started = Date.now();
    const unload = await call('POST', '/admin/models/long/unload', ADMIN, { drain_ms: 300 });
    expect(unload.status).toBe(200);
    const events = await reading;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(JSON.parse(events[events.length - 1]).error.code).toBe('model_unloaded');
    // New requests load it again on demand.
    expect((await call('POST', '/v1/completions', USER, { model: 'long', prompt: 'x', max_tokens: 1 })).status).toBe(200);
  });
});
