/**
 * Health probes end to end: the gateway's /health/live, /health/ready and /health, and a worker's
 * on WORKER_HTTP_PORT. Readiness flips to 503 when the only worker of a preloaded model stops and
 * back when it returns; with Redis gone both stay live and turn not ready at once.
 */
import { freePort, stopProcess } from '@switchyard/runtime';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { startStack, tinyModel, waitForWorker, type Stack } from './support/stack';

jest.setTimeout(120_000);

let stack: Stack;
let workerPort = 0;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- probe bodies of a few shapes
type Json = any;

async function get(url: string): Promise<{ status: number; json: Json; ms: number }> {
  const started = Date.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, ms: Date.now() - started };
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}\n${stack.logs.slice(-30).join('')}`);
}

const gateway = (path: string): Promise<{ status: number; json: Json; ms: number }> => get(`${stack.baseUrl}${path}`);
const worker = (path: string): Promise<{ status: number; json: Json; ms: number }> => get(`http://127.0.0.1:${workerPort}${path}`);

beforeAll(async () => {
  const path = await tinyModel('tiny-chat');
  workerPort = await freePort();
  stack = await startStack({
    models: [
      { name: 'resident', path, parallel: 1 },
      // Not preloaded: readiness does not wait for it.
      { name: 'lazy', path, preload: false },
    ],
    // Probes need no key even where the API does.
    gatewayEnv: { API_KEYS: 'sk-health-user-01' },
    workerEnv: { WORKER_HTTP_PORT: String(workerPort) },
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('health probes (e2e)', () => {
  it('the gateway is live and ready, and /health still answers as before, without a key', async () => {
    expect(await gateway('/health/live')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await gateway('/health/ready')).toMatchObject({ status: 200, json: { status: 'ok', workers: 1 } });
    expect(await gateway('/health')).toMatchObject({ status: 200, json: { status: 'ok', workers: 1 } });
  });

  it('the worker answers its probes and metrics on WORKER_HTTP_PORT', async () => {
    expect(await worker('/health/live')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await worker('/health/ready')).toMatchObject({ status: 200, json: { status: 'ok' } });
    const metrics = await fetch(`http://127.0.0.1:${workerPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('switchyard_worker_slots{model="resident",worker="worker-0",backend="llama.cpp"} 1');
    expect((await worker('/nope')).status).toBe(404);
  });

  it('readiness turns 503 when the only worker of a preloaded model stops, and back when it returns', async () => {
    await stopProcess(stack.workers[0]);
    // A worker that stops says goodbye (its heartbeat is deleted), so this is at once, not at the heartbeat's expiry.
    await until('the gateway not ready', async () => (await gateway('/health/ready')).status === 503, 5000);
    const down = await gateway('/health/ready');
    expect(down.json.error).toMatchObject({ type: 'server_error', code: 'not_ready' });
    expect(down.json.error.message).toContain("'resident'");
    expect(down.json.error.message).not.toContain("'lazy'");
    if (openapiAvailable()) expect(schemaErrors('ErrorResponse', down.json)).toEqual([]);
    expect((await gateway('/health/live')).status).toBe(200);
    expect(await gateway('/health')).toMatchObject({ status: 200, json: { workers: 0 } });
    await expect(fetch(`http://127.0.0.1:${workerPort}/health/live`)).rejects.toThrow();

    stack.workers.length = 0;
    stack.worker = undefined;
    stack.addWorker('worker-0', { WORKER_HTTP_PORT: String(workerPort) });
    // Live while its preload runs (the port opens before the model loads), ready once it is loaded.
    await until('the worker live', async () => (await worker('/health/live').catch(() => ({ status: 0 }))).status === 200);
    await waitForWorker(stack, ['resident']);
    await until('the worker ready', async () => (await worker('/health/ready')).status === 200);
    await until('the gateway ready again', async () => (await gateway('/health/ready')).status === 200);
  });

  it('with Redis gone both stay live and answer not ready at once', async () => {
    await stack.redis.stop();
    await until('the gateway to see Redis gone', async () => (await gateway('/health/ready')).status === 503, 5000);
    const ready = await gateway('/health/ready');
    expect(ready.json.error.message).toContain('Redis is unreachable');
    expect(ready.ms).toBeLessThan(2000);
    expect((await gateway('/health/live')).status).toBe(200);
    expect((await gateway('/health')).json.error.code).toBe('redis_unavailable');
    await until('the worker to see Redis gone', async () => (await worker('/health/ready')).status === 503, 5000);
    const w = await worker('/health/ready');
    expect(w.json.error).toMatchObject({ code: 'not_ready' });
    expect(w.json.reasons).toContain('Redis is unreachable');
    expect(w.ms).toBeLessThan(2000);
    expect((await worker('/health/live')).status).toBe(200);
  });
});
