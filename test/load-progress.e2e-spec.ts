/**
 * Model-load progress (e2e, real Redis and llama.cpp): a load reports llama.cpp's own progress
 * (onLoadProgress) in the worker's heartbeats and /admin/models while it runs, and the admin load
 * streams it as SSE (`Accept: text/event-stream` or `?stream=true`): increasing progress, then a
 * ready event; a failed load ends its stream with an OpenAI error event; without SSE the answer
 * is the JSON it always was. The progress model has SmolLM2-135M's shape (random weights, about
 * 170 MB) so that its load lasts long enough to be seen step by step.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import Redis from 'ioredis';
import { waitUntil } from '@switchyard/runtime';
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(180_000);

const ADMIN = 'admin-key';

interface LoadEvent {
  model?: string;
  worker?: string;
  state?: string;
  progress?: number;
  stage?: string;
  load_ms?: number;
  error?: { code: string; type: string; message: string };
}

async function readEvents(res: Response): Promise<LoadEvent[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((b) => b.trim())
    .filter((b) => b.startsWith('data: '))
    .map((b) => JSON.parse(b.slice(6)) as LoadEvent);
}

describe('model-load progress (e2e)', () => {
  let stack: Stack;
  const broken = join(tmpdir(), `switchyard-not-a-model-${process.pid}.gguf`);
  const admin = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${stack.baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });

  beforeAll(async () => {
    const [big, tiny] = await Promise.all([tinyModel('load-progress-135m', { shape: 'smollm2-135m', quant: 'q8_0' }), tinyModel('tiny-chat')]);
    writeFileSync(broken, Buffer.alloc(4096, 7));
    stack = await startStack({
      models: [
        { name: 'big', path: big, preload: false, auto_load: false, context_size: 512, parallel: 1 },
        { name: 'tiny', path: tiny, preload: false, auto_load: false },
        { name: 'broken', path: broken, preload: false, auto_load: false },
      ],
      gatewayEnv: { ADMIN_KEYS: ADMIN },
    });
    // Nothing is preloaded, so the stack does not wait for the worker: wait for its heartbeat here.
    await waitUntil(
      async () => ((await (await admin('/admin/workers')).json()) as { data: Array<{ id: string }> }).data.some((w) => w.id === 'worker-0'),
      60_000,
      'the llm worker',
      stack.logs,
    );
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(broken, { force: true });
  });

  it('heartbeats, /admin/models and the SSE load stream show the load advancing, then ready', async () => {
    // Every heartbeat the worker writes during the load, straight from Redis.
    const client = new Redis(stack.redis.url);
    const monitor = await client.monitor();
    const beats: Array<{ state: string; loadProgress?: number; loadStage?: string }> = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() !== 'set' || args[1] !== 'switchyard:worker:worker-0') return;
      const hb = JSON.parse(args[2]) as { models: Array<{ name: string; state: string; loadProgress?: number; loadStage?: string }> };
      const m = hb.models.find((x) => x.name === 'big');
      if (m) beats.push(m);
    });
    // /admin/models as fast as it answers while the load runs.
    const seen: Array<{ state: string; load_progress?: number; workers: Array<{ state: string; load_progress?: number; load_stage?: string }> }> = [];
    let loading = true;
    const polling = (async () => {
      while (loading) {
        const list = (await (await admin('/admin/models')).json()) as { data: Array<{ id: string; state: string; workers: [] }> };
        const big = list.data.find((m) => m.id === 'big');
        if (big && big.state === 'loading') seen.push(big);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    try {
      const res = await admin('/admin/models/big/load', { method: 'POST', body: '{}', headers: { accept: 'text/event-stream' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = await readEvents(res);
      loading = false;
      await polling;

      const last = events[events.length - 1];
      expect(last).toMatchObject({ model: 'big', worker: 'worker-0', state: 'ready', progress: 1, load_ms: expect.any(Number) });
      const steps = events.slice(0, -1);
      expect(steps.every((e) => e.state === 'loading' && e.model === 'big' && e.worker === 'worker-0' && typeof e.progress === 'number' && typeof e.stage === 'string')).toBe(true);
      // Increasing (never back) through real steps: llama.cpp's weights, then the context.
      const progress = steps.map((e) => e.progress!);
      for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
      expect(new Set(progress).size).toBeGreaterThanOrEqual(2);
      expect(progress.some((p) => p > 0 && p < 1)).toBe(true);
      expect(steps.some((e) => e.stage === 'weights')).toBe(true);

      const loadingBeats = beats.filter((b) => b.state === 'loading');
      expect(loadingBeats.some((b) => typeof b.loadProgress === 'number' && b.loadProgress > 0 && b.loadProgress < 1 && typeof b.loadStage === 'string')).toBe(true);
      expect(beats[beats.length - 1]).toMatchObject({ state: 'ready' });
      expect(beats[beats.length - 1].loadProgress).toBeUndefined();

      expect(seen.length).toBeGreaterThan(0);
      const w = seen.flatMap((m) => m.workers).find((x) => x.state === 'loading' && typeof x.load_progress === 'number');
      expect(w).toBeDefined();
      expect(w!.load_progress).toBeGreaterThanOrEqual(0);
      expect(w!.load_progress).toBeLessThan(1);
      expect(typeof w!.load_stage).toBe('string');
      expect(seen.every((m) => typeof m.load_progress === 'number')).toBe(true);
    } finally {
      loading = false;
      monitor.disconnect();
      client.disconnect();
    }
    // Once ready, no progress is shown.
    const after = (await (await admin('/admin/models')).json()) as { data: Array<{ id: string; state: string; load_progress?: number; workers: Array<{ load_progress?: number }> }> };
    const big = after.data.find((m) => m.id === 'big')!;
    expect(big.state).toBe('loaded');
    expect(big.load_progress).toBeUndefined();
    expect(big.workers[0].load_progress).toBeUndefined();
  });

  it('?stream=true streams too, and a model already loaded answers with its ready event at once', async () => {
    const first = await admin('/admin/models/tiny/load?stream=true', { method: 'POST', body: '{}' });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readEvents(first);
    expect(events[0]).toMatchObject({ model: 'tiny', state: 'loading' });
    expect(events[events.length - 1]).toMatchObject({ model: 'tiny', worker: 'worker-0', state: 'ready', progress: 1 });
    const again = await readEvents(await admin('/admin/models/tiny/load?stream=true', { method: 'POST', body: '{}' }));
    expect(again).toEqual([{ model: 'tiny', worker: 'worker-0', state: 'ready', progress: 1, load_ms: 0 }]);
  });

  it('without SSE the load answers with the same JSON as before', async () => {
    const unload = await admin('/admin/models/tiny/unload', { method: 'POST', body: '{}' });
    expect(unload.status).toBe(200);
    const res = await admin('/admin/models/tiny/load', { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as object;
    expect(body).toEqual({ id: 'tiny', state: 'loaded', worker: 'worker-0', load_ms: expect.any(Number) });
  });

  it('a load that fails after it started ends its stream with an OpenAI error event', async () => {
    const res = await admin('/admin/models/broken/load', { method: 'POST', body: '{}', headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    const events = await readEvents(res);
    expect(events[0]).toMatchObject({ model: 'broken', state: 'loading', progress: 0 });
    const last = events[events.length - 1];
    expect(Object.keys(last)).toEqual(['error']);
    expect(last.error).toMatchObject({ code: 'load_failed', type: 'invalid_request_error', message: expect.stringContaining('broken') });
    expect(Object.keys(last.error!).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('a load refused before it starts is a plain HTTP error, stream or not', async () => {
    const res = await admin('/admin/models/nope/load', { method: 'POST', body: '{}', headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const wrongWorker = await admin('/admin/models/tiny/load?stream=true', { method: 'POST', body: JSON.stringify({ worker: 'ghost' }) });
    expect(wrongWorker.status).toBe(404);
    expect(((await wrongWorker.json()) as { error: { code: string } }).error.code).toBe('worker_not_found');
  });
});
