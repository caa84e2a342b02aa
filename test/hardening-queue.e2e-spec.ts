/**
 * Hardening of the queue path against failures around it (e2e, real Redis and llama.cpp): a gateway
 * that dies leaves no orphan jobs holding slots, `max_queue` holds under a burst, Redis outages get
 * quick 503s and a Redis restart does not cut live streams, and with no worker alive every request
 * gets its 503 at the same short bound.
 */
import type { ChildProcess } from 'node:child_process';
import { freePort, startApp, stopProcess, waitUntil } from '@switchyard/runtime';
import { ROOT, startStack, tinyModel, waitForWorker, type Stack } from './support/stack';

jest.setTimeout(240_000);

interface Answer {
  status: number;
  ms: number;
  code?: string;
  retryAfter: string | null;
}

async function complete(baseUrl: string, body: object, signal?: AbortSignal): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(`${baseUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, ms: Date.now() - started, code: json.error?.code, retryAfter: res.headers.get('retry-after') };
}

/** Reads an SSE response as it arrives; `onFirst` runs once the first data event is in. */
async function readStream(res: Response, onFirst: () => Promise<void>): Promise<string[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: string[] = [];
  let buffered = '';
  let first = true;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    const blocks = buffered.split('\n\n');
    buffered = blocks.pop() ?? '';
    for (const b of blocks) if (b.startsWith('data: ')) events.push(b.slice(6));
    if (first && events.length > 0) {
      first = false;
      await onFirst();
    }
  }
  return events;
}

describe('a gateway that dies (e2e)', () => {
  let stack: Stack;
  let gatewayB: ChildProcess | undefined;
  let baseB = '';
  beforeAll(async () => {
    const path = await tinyModel('tiny-long', { contextLength: 32768 });
    stack = await startStack({ models: [{ name: 'long', path, parallel: 2, context_size: 32768 }] });
    const port = await freePort();
    baseB = `http://127.0.0.1:${port}`;
    gatewayB = startApp(ROOT, 'gateway', { REDIS_URL: stack.redis.url, MODELS_FILE: stack.modelsFile, LOG_LEVEL: 'warn', PORT: String(port), HOST: '127.0.0.1' }, stack.logs);
    await waitUntil(async () => (await fetch(`${baseB}/health`)).ok, 20_000, 'gateway B', stack.logs);
  });
  afterAll(async () => {
    await stopProcess(gatewayB);
    await stack?.stop();
  });

  it("its running and queued jobs are dropped within seconds, so another gateway's request is served", async () => {
    // Two long generations fill both slots and two more wait behind them, all from gateway A.
    const orphans = Array.from({ length: 4 }, () =>
      complete(stack.baseUrl, { model: 'long', prompt: 'Once', max_tokens: 20_000, temperature: 0 }).catch(() => undefined),
    );
    await waitUntil(
      async () => {
        const workers = (await (await fetch(`${baseB}/admin/workers`)).json()) as { data: Array<{ models: Array<{ busy: number }> }> };
        return workers.data[0]?.models[0]?.busy === 2;
      },
      30_000,
      'both slots busy',
      stack.logs,
    );
    stack.gateway.kill('SIGKILL');
    const answer = await complete(baseB, { model: 'long', prompt: 'Once', max_tokens: 5 }, AbortSignal.timeout(60_000)).catch(() => ({ status: 0, ms: Infinity }));
    await Promise.all(orphans);
    // The orphans alone would hold the slots for minutes; the owner's heartbeat expires in 5 s.
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeLessThan(20_000);
  });
});

describe('max_queue under a burst (e2e)', () => {
  let stack: Stack;
  beforeAll(async () => {
    const path = await tinyModel('tiny-long', { contextLength: 32768 });
    stack = await startStack({ models: [{ name: 'narrow', path, parallel: 1, max_queue: 2, context_size: 32768 }] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('admits one running and two waiting requests; the rest get 429 queue_full with Retry-After', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, () => complete(stack.baseUrl, { model: 'narrow', prompt: 'Once', max_tokens: 2000, temperature: 0 })));
    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    // One job may finish while the burst is still being admitted; never the whole burst.
    expect(served.length).toBeGreaterThanOrEqual(3);
    expect(served.length).toBeLessThanOrEqual(4);
    expect(refused.length).toBe(30 - served.length);
    for (const r of refused) {
      expect(r.code).toBe('queue_full');
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('Redis outages (e2e)', () => {
  let stack: Stack;
  beforeAll(async () => {
    const path = await tinyModel('tiny-long', { contextLength: 32768 });
    stack = await startStack({ models: [{ name: 'long', path, parallel: 2, context_size: 32768 }] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a Redis restart mid-stream does not cut the streams with a false worker_lost', async () => {
    const open = (): Promise<Response> =>
      fetch(`${stack.baseUrl}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'long', prompt: 'Once', max_tokens: 3000, temperature: 0, stream: true }),
      });
    const responses = await Promise.all([open(), open()]);
    for (const res of responses) expect(res.status).toBe(200);
    // Down long enough for the gateway to check on the worker (after 2 s without events). The
    // worker comes back a moment after the gateway (as a busy worker does; here it is paused for
    // that moment), so the gateway's first look finds the empty, restarted Redis: no heartbeat yet.
    const restart = async (): Promise<void> => {
      stack.worker!.kill('SIGSTOP');
      try {
        await stack.redis.restart(3000);
        await new Promise((r) => setTimeout(r, 1500));
      } finally {
        stack.worker!.kill('SIGCONT');
      }
    };
    let restarted: Promise<void> | undefined;
    const streams = await Promise.all(responses.map((res) => readStream(res, async () => void (restarted ??= restart()))));
    await restarted;
    for (const events of streams) {
      expect(events[events.length - 1]).toBe('[DONE]');
      // The text went on after the restart (the worker kept generating and its events got through).
      expect(events.length).toBeGreaterThan(100);
    }
  });

  it('a request waiting in the queue when Redis restarts (and loses it) gets a 503 to retry, not an endless wait', async () => {
    await waitForWorker(stack, ['long']);
    const long = { model: 'long', prompt: 'Once', max_tokens: 3000, temperature: 0 };
    const running = [complete(stack.baseUrl, long), complete(stack.baseUrl, long)];
    await waitUntil(
      async () => {
        const workers = (await (await fetch(`${stack.baseUrl}/admin/workers`)).json()) as { data: Array<{ models: Array<{ busy: number }> }> };
        return workers.data[0]?.models[0]?.busy === 2;
      },
      30_000,
      'both slots busy',
      stack.logs,
    );
    const waiting = complete(stack.baseUrl, { model: 'long', prompt: 'Once', max_tokens: 5 }, AbortSignal.timeout(60_000));
    await new Promise((r) => setTimeout(r, 500));
    await stack.redis.restart();
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.code).toBe('job_lost');
    expect(answer.retryAfter).not.toBeNull();
    await Promise.all(running);
  });

  it('while Redis is down /health and new requests answer 503 redis_unavailable at once, and service resumes after', async () => {
    await waitForWorker(stack, ['long']);
    await stack.redis.stop();
    await new Promise((r) => setTimeout(r, 300));
    const startedHealth = Date.now();
    const health = await fetch(`${stack.baseUrl}/health`, { signal: AbortSignal.timeout(30_000) });
    const healthMs = Date.now() - startedHealth;
    expect(health.status).toBe(503);
    expect(((await health.json()) as { error: { code: string } }).error.code).toBe('redis_unavailable');
    expect(healthMs).toBeLessThan(2000);
    const answer = await complete(stack.baseUrl, { model: 'long', prompt: 'Once', max_tokens: 5 }, AbortSignal.timeout(30_000));
    expect(answer.status).toBe(503);
    expect(answer.code).toBe('redis_unavailable');
    expect(answer.retryAfter).not.toBeNull();
    expect(answer.ms).toBeLessThan(2000);

    await stack.redis.restart();
    await waitUntil(async () => (await fetch(`${stack.baseUrl}/health`)).ok, 20_000, 'health after the restart', stack.logs);
    await waitForWorker(stack, ['long']);
    const after = await complete(stack.baseUrl, { model: 'long', prompt: 'Once', max_tokens: 5 }, AbortSignal.timeout(60_000));
    expect(after.status).toBe(200);
  });
});

describe('no worker alive (e2e)', () => {
  let stack: Stack;
  beforeAll(async () => {
    const path = await tinyModel('tiny-long', { contextLength: 32768 });
    stack = await startStack({ models: [{ name: 'nobody', path }], noWorker: true, gatewayEnv: { WORKER_WAIT_MS: '2000', LOAD_TIMEOUT_MS: '60000' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('concurrent requests all get 503 no_worker_available after WORKER_WAIT_MS, none after LOAD_TIMEOUT_MS', async () => {
    const answers = await Promise.all(Array.from({ length: 3 }, () => complete(stack.baseUrl, { model: 'nobody', prompt: 'Once', max_tokens: 5 }, AbortSignal.timeout(90_000))));
    for (const a of answers) {
      expect(a.status).toBe(503);
      expect(a.code).toBe('no_worker_available');
      expect(a.ms).toBeLessThan(2000 + 8000);
    }
  });
});
