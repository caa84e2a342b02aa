/**
 * GET /admin/autoscale end to end on a real stack (Redis, BullMQ, compiled gateway and llm workers):
 * a request for a model no worker serves shows as awaiting_worker and depth 1 until a worker started
 * for it serves it, and a worker started for a model that is not preloaded gets the waiting request's load; a running stream shows as active and jobs past the slot as waiting; 404 for an
 * unknown model, 401/403 without the admin key.
 */
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(180_000);

const USER = 'sk-user-autoscale-01';
const ADMIN = 'sk-admin-autoscale-1';

let stack: Stack;

interface Depth {
  object: string;
  model: string;
  backend: string;
  depth: number;
  waiting: number;
  prioritized: number;
  active: number;
  delayed: number;
  awaiting_worker: number;
  workers: number;
}

async function depth(model: string): Promise<Depth> {
  const res = await fetch(`${stack.baseUrl}/admin/autoscale?model=${encodeURIComponent(model)}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Depth;
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}\n${stack.logs.slice(-30).join('')}`);
}

function complete(body: object, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.baseUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${USER}` },
    body: JSON.stringify(body),
    signal,
  });
}

beforeAll(async () => {
  const path = await tinyModel('tiny-long', { contextLength: 32768 });
  stack = await startStack({
    models: [
      { name: 'hot', path, parallel: 1, max_queue: 4, context_size: 32768 },
      { name: 'cold', path, aliases: ['cold-alias'], parallel: 1 },
      { name: 'lazy', path, parallel: 1, preload: false },
    ],
    noWorker: true,
    // Long enough for the request to outlive a worker's start (scale-from-zero).
    gatewayEnv: { API_KEYS: USER, ADMIN_KEYS: ADMIN, WORKER_WAIT_MS: '120000' },
  });
  stack.addWorker('worker-hot', { WORKER_MODELS: 'hot' });
  await until('hot served', async () => (await depth('hot')).workers === 1, 90_000);
});

afterAll(async () => {
  await stack?.stop();
});

describe('GET /admin/autoscale (e2e)', () => {
  it('needs the admin key: 401 without one, 403 with a user key', async () => {
    expect((await fetch(`${stack.baseUrl}/admin/autoscale?model=hot`)).status).toBe(401);
    const user = await fetch(`${stack.baseUrl}/admin/autoscale?model=hot`, { headers: { authorization: `Bearer ${USER}` } });
    expect(user.status).toBe(403);
  });

  it('answers 404 model_not_found for an unknown model', async () => {
    const res = await fetch(`${stack.baseUrl}/admin/autoscale?model=nope`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; param: string; type: string } };
    expect(body.error).toMatchObject({ code: 'model_not_found', param: 'model', type: 'invalid_request_error' });
  });

  it('counts a request waiting for a model nobody serves, and a worker started for it serves it', async () => {
    const idle = await depth('cold-alias');
    expect(idle).toMatchObject({ object: 'autoscale.depth', model: 'cold', backend: 'llama.cpp', depth: 0, awaiting_worker: 0, workers: 0 });
    const pending = complete({ model: 'cold', prompt: 'Once', max_tokens: 4, temperature: 0 });
    await until('the wait counted', async () => (await depth('cold')).awaiting_worker === 1);
    expect(await depth('cold')).toMatchObject({ depth: 1, waiting: 0, active: 0, workers: 0 });
    const list = await fetch(`${stack.baseUrl}/admin/autoscale`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(list.status).toBe(200);
    const all = (await list.json()) as { object: string; data: Depth[] };
    expect(all.object).toBe('list');
    expect(all.data.map((d) => d.model).sort()).toEqual(['cold', 'hot', 'lazy']);
    expect(all.data.find((d) => d.model === 'cold')).toMatchObject({ depth: 1, awaiting_worker: 1 });
    expect(all.data.find((d) => d.model === 'hot')).toMatchObject({ depth: 0, workers: 1 });
    // The same demand as a Prometheus gauge.
    const metrics = await (await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    expect(metrics).toContain('switchyard_requests_awaiting_worker{model="cold"} 1');
    // The "autoscaler" starts a worker for the model: the waiting request is served by it.
    stack.addWorker('worker-cold', { WORKER_MODELS: 'cold' });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: unknown[] }).choices).toHaveLength(1);
    await until('depth back to 0', async () => {
      const d = await depth('cold');
      return d.depth === 0 && d.awaiting_worker === 0 && d.workers === 1;
    });
  });

  it('loads a preload:false model on a worker started for the waiting request (scale from zero)', async () => {
    const pending = complete({ model: 'lazy', prompt: 'Once', max_tokens: 4, temperature: 0 });
    await until('the wait counted', async () => (await depth('lazy')).awaiting_worker === 1);
    // The worker comes up holding nothing (the model is not preloaded): the waiting request's
    // on-demand load must reach it, not only the worker that was alive when the wait began (none).
    stack.addWorker('worker-lazy', { WORKER_MODELS: 'lazy' });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: unknown[] }).choices).toHaveLength(1);
    expect(await depth('lazy')).toMatchObject({ awaiting_worker: 0, workers: 1 });
  });

  it('shows a running stream as active and the jobs past the slot as waiting', async () => {
    const long = new AbortController();
    const running = complete({ model: 'hot', prompt: 'Once', max_tokens: 20_000, temperature: 0, stream: true }, long.signal).catch(() => undefined);
    await until('the stream active', async () => (await depth('hot')).active === 1);
    const queued = [complete({ model: 'hot', prompt: 'A', max_tokens: 2 }), complete({ model: 'hot', prompt: 'B', max_tokens: 2 })];
    await until('2 jobs waiting', async () => (await depth('hot')).waiting === 2);
    expect(await depth('hot')).toMatchObject({ depth: 3, active: 1, waiting: 2, awaiting_worker: 0, workers: 1 });
    long.abort();
    await running;
    for (const r of await Promise.all(queued)) expect(r.status).toBe(200);
    await until('the queue empty', async () => (await depth('hot')).depth === 0);
  });
});
