import type Redis from 'ioredis';
import { Logger } from './logger';
import { WorkerHttp } from './worker-http';
import { WorkerMetrics } from './worker-metrics';

/** Only what readiness reads from the connection: its status and PING. */
function fakeRedis(o: { status: string; ping: () => Promise<string> }): Redis {
  return o as unknown as Redis;
}

describe('WorkerHttp', () => {
  const log = new Logger('test', 'error');
  let http: WorkerHttp | undefined;
  afterEach(async () => {
    await http?.stop();
    http = undefined;
  });

  async function start(redis: Redis, notReady: () => string[], metrics?: WorkerMetrics): Promise<string> {
    http = await WorkerHttp.start({ port: 0, host: '127.0.0.1', redis, notReady, metrics, log });
    return `http://127.0.0.1:${http.port}`;
  }

  it('is ready when Redis answers and nothing is pending, and says why not otherwise', async () => {
    let reasons: string[] = ["'m' is still loading"];
    const base = await start(fakeRedis({ status: 'ready', ping: () => Promise.resolve('PONG') }), () => reasons);
    const loading = await fetch(`${base}/health/ready`);
    expect(loading.status).toBe(503);
    expect(await loading.json()).toMatchObject({ error: { code: 'not_ready', message: "Not ready: 'm' is still loading." }, reasons });
    reasons = [];
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('is live but not ready, within its bound, when Redis does not answer', async () => {
    const base = await start(fakeRedis({ status: 'ready', ping: () => new Promise(() => undefined) }), () => []);
    const started = Date.now();
    const res = await fetch(`${base}/health/ready`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reasons: string[] }).reasons).toEqual(['Redis is unreachable']);
    expect(Date.now() - started).toBeLessThan(1900);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('serves metrics only when they are on', async () => {
    const redis = fakeRedis({ status: 'end', ping: () => Promise.reject(new Error('closed')) });
    const metrics = new WorkerMetrics('llama.cpp', 'w-1');
    metrics.watchModels(() => [{ name: 'm', state: 'ready', slots: 4, busy: 1, contextSize: 512, threads: 1, lastUsed: 0, keepAliveMs: -1 }]);
    metrics.jobEnded({ kind: 'chat', model: 'm', outcome: 'ok', startedAt: performance.now() - 1000, firstTokenAt: performance.now() - 500, usage: { promptTokens: 3, completionTokens: 11 } });
    const base = await start(redis, () => [], metrics);
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('switchyard_worker_slots_busy{model="m",worker="w-1",backend="llama.cpp"} 1');
    expect(text).toContain('switchyard_worker_generated_tokens_total{model="m",worker="w-1",backend="llama.cpp"} 11');
    expect(text).toContain('switchyard_worker_jobs_total{kind="chat",model="m",outcome="ok",worker="w-1",backend="llama.cpp"} 1');
    // 10 tokens after the first in about 0.5 s: about 20 tokens/s, in the (10, 20] or (20, 50] bucket.
    expect(text).toMatch(/switchyard_worker_generation_tokens_per_second_bucket\{le="50",worker="w-1",backend="llama.cpp",model="m"\} 1/);
    expect(text).toMatch(/switchyard_worker_generation_tokens_per_second_bucket\{le="10",worker="w-1",backend="llama.cpp",model="m"\} 0/);
    await http!.stop();
    const off = await start(redis, () => []);
    expect((await fetch(`${off}/metrics`)).status).toBe(404);
    expect((await fetch(`${off}/health/ready`)).status).toBe(503);
  });
});
