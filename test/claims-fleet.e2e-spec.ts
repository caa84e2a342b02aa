/**
 * Claims of README.md and docs/operations.md about the llm fleet that no other suite checks, end to
 * end on two real llm workers (separate processes, real Redis, BullMQ and llama.cpp):
 *
 * - load failures are answered, never fatal: not enough memory 507 `insufficient_memory`, a file
 *   llama.cpp refuses 400 `load_failed`, no answer within `LOAD_TIMEOUT_MS` 504, for admin and
 *   on-demand loads alike;
 * - `WORKER_MODELS` limits which models a worker holds and is asked to load;
 * - an on-demand load goes to the live worker with the most free memory;
 * - a burst of requests for a cold model (`preload: false`) starts one load.
 *
 * Both workers run on this one machine, so `os.freemem()` would report the same number for both: a
 * `--require` preload in each worker process makes `os.freemem()` read its value from a file the
 * test writes (one per worker), which stands in for two hosts with different free memory. Nothing
 * else is replaced: the worker's heartbeat, the gateway's placement and the memory check are the
 * product's own code.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { workerControlChannel, workerHeartbeatKey, type ControlCommand, type WorkerHeartbeat } from '@switchyard/contracts';
import { waitUntil } from '@switchyard/runtime';
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

const GiB = 1024 ** 3;
const RICH = 64 * GiB;
const POOR = 2 * GiB;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- admin and OpenAI bodies of many shapes
type Json = any;

interface Answer {
  status: number;
  json: Json;
  worker: string | null;
}

let stack: Stack;
let redis: Redis;
let dir: string;
let w0: ChildProcess;
let w1: ChildProcess;

async function call(base: string, method: string, path: string, body?: object): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, worker: res.headers.get('x-switchyard-worker') };
}

const complete = (model: string, base = stack.baseUrl): Promise<Answer> => call(base, 'POST', '/v1/completions', { model, prompt: 'Once upon a time', max_tokens: 2 });

async function heartbeat(id: string): Promise<WorkerHeartbeat | undefined> {
  const raw = await redis.get(workerHeartbeatKey(id));
  return raw ? (JSON.parse(raw) as WorkerHeartbeat) : undefined;
}

/** Worker ids whose heartbeat holds the model in any state. */
async function holders(model: string): Promise<string[]> {
  const out: string[] = [];
  for (const id of ['worker-0', 'worker-1']) if ((await heartbeat(id))?.models.some((m) => m.name === model)) out.push(id);
  return out;
}

/** Sets what `os.freemem()` returns in each worker, and waits until both heartbeats report it. */
async function setFreeMemory(mem0: number, mem1: number): Promise<void> {
  writeFileSync(join(dir, 'free-worker-0'), String(mem0));
  writeFileSync(join(dir, 'free-worker-1'), String(mem1));
  await waitUntil(
    async () => (await heartbeat('worker-0'))?.freeMemory === mem0 && (await heartbeat('worker-1'))?.freeMemory === mem1,
    30_000,
    'both heartbeats to report the new free memory',
    stack.logs,
  );
}

function expectError(a: Answer, status: number, code: string): void {
  expect({ status: a.status, code: a.json?.error?.code }).toEqual({ status, code });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-claims-fleet-'));
  // os.freemem() read from a file per worker (see the header); the real value until the file exists.
  const preload = join(dir, 'free-memory.js');
  writeFileSync(
    preload,
    [
      "const fs = require('node:fs');",
      "const os = require('node:os');",
      'const real = os.freemem;',
      'const file = process.env.TEST_FREE_MEMORY_FILE;',
      'os.freemem = () => { try { return Number(fs.readFileSync(file, "utf8")); } catch { return real(); } };',
      '',
    ].join('\n'),
  );
  const tiny = await tinyModel('tiny-chat');
  // 1 TiB, sparse: larger than any free memory (real or reported) by far, and takes no disk.
  const huge = join(dir, 'huge.gguf');
  writeFileSync(huge, '');
  truncateSync(huge, 1024 * GiB);
  // Exists, but is no GGUF: llama.cpp refuses it.
  const broken = join(dir, 'broken.gguf');
  writeFileSync(broken, 'this is not a GGUF file\n'.repeat(1000));
  stack = await startStack({
    models: [
      { name: 'pinned', path: tiny, parallel: 1 },
      { name: 'solo-1', path: tiny, parallel: 1, preload: false },
      { name: 'roam-a', path: tiny, parallel: 1, preload: false },
      { name: 'roam-b', path: tiny, parallel: 1, preload: false },
      { name: 'burst', path: tiny, parallel: 2, preload: false },
      { name: 'huge', path: huge, preload: false },
      { name: 'broken', path: broken, preload: false },
      { name: 'stuck', path: tiny, parallel: 1, preload: false },
    ],
    noWorker: true,
  });
  redis = new Redis(stack.redis.url);
  const env = (id: string, models: string[]): Record<string, string> => ({
    WORKER_MODELS: models.join(','),
    NODE_OPTIONS: `--require ${preload}`,
    TEST_FREE_MEMORY_FILE: join(dir, `free-${id}`),
  });
  w0 = stack.addWorker('worker-0', env('worker-0', ['pinned', 'roam-a', 'roam-b', 'burst', 'huge', 'broken']));
  w1 = stack.addWorker('worker-1', env('worker-1', ['solo-1', 'roam-a', 'roam-b', 'burst', 'huge', 'broken', 'stuck']));
  await setFreeMemory(POOR, POOR);
  await waitUntil(async () => (await heartbeat('worker-0'))?.models.some((m) => m.name === 'pinned' && m.state === 'ready') ?? false, 60_000, 'worker-0 to preload pinned', stack.logs);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('WORKER_MODELS (e2e)', () => {
  it('a worker holds, lists and is asked to load only the models WORKER_MODELS names', async () => {
    const workers = (await call(stack.baseUrl, 'GET', '/admin/workers')).json.data as Array<{ id: string; servable: string[]; models: Array<{ id: string }> }>;
    const byId = Object.fromEntries(workers.map((w) => [w.id, w]));
    expect(byId['worker-0'].servable.sort()).toEqual(['broken', 'burst', 'huge', 'pinned', 'roam-a', 'roam-b']);
    expect(byId['worker-1'].servable.sort()).toEqual(['broken', 'burst', 'huge', 'roam-a', 'roam-b', 'solo-1', 'stuck']);
    // `pinned` has preload (the default): only the worker allowed to hold it loaded it.
    expect(await holders('pinned')).toEqual(['worker-0']);
    const served = await complete('pinned');
    expect(served.status).toBe(200);
    expect(served.worker).toBe('worker-0');
    // Naming the other worker is refused by the gateway.
    const refused = await call(stack.baseUrl, 'POST', '/admin/models/pinned/load', { worker: 'worker-1' });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'model_not_servable', param: 'worker' });
    expect(await holders('pinned')).toEqual(['worker-0']);
  });

  it('an on-demand load goes to a worker that may hold the model, even when another has more free memory', async () => {
    await setFreeMemory(RICH, POOR);
    const r = await complete('solo-1');
    expect(r.status).toBe(200);
    expect(r.worker).toBe('worker-1');
    expect(await holders('solo-1')).toEqual(['worker-1']);
  });
});

describe('placement by free memory (e2e)', () => {
  it('loads a cold model on the live worker with the most free memory', async () => {
    // worker-1 sorts after worker-0: the richer one wins, not the first.
    await setFreeMemory(POOR, RICH);
    const a = await complete('roam-a');
    expect(a.status).toBe(200);
    expect(a.worker).toBe('worker-1');
    expect(await holders('roam-a')).toEqual(['worker-1']);
    // The other way round, on the same two workers.
    await setFreeMemory(RICH, POOR);
    const b = await complete('roam-b');
    expect(b.status).toBe(200);
    expect(b.worker).toBe('worker-0');
    expect(await holders('roam-b')).toEqual(['worker-0']);
    // The admin API's view agrees.
    const models = (await call(stack.baseUrl, 'GET', '/admin/models')).json.data as Array<{ id: string; workers: Array<{ id: string }> }>;
    expect(models.find((m) => m.id === 'roam-a')!.workers.map((w) => w.id)).toEqual(['worker-1']);
    expect(models.find((m) => m.id === 'roam-b')!.workers.map((w) => w.id)).toEqual(['worker-0']);
  });
});

describe('a burst on a cold model (e2e)', () => {
  it('starts one load for concurrent requests through two gateways', async () => {
    const second = await stack.addGateway();
    await setFreeMemory(POOR, POOR);
    // Every load or unload command any gateway sends to any worker, as it is published.
    const spy = new Redis(stack.redis.url);
    const commands: ControlCommand[] = [];
    spy.on('pmessage', (_pattern: string, _channel: string, message: string) => commands.push(JSON.parse(message) as ControlCommand));
    await spy.psubscribe(workerControlChannel('*'));
    try {
      expect(await holders('burst')).toEqual([]);
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => complete('burst', i % 2 === 0 ? stack.baseUrl : second)));
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      // The cold model was loaded once, on one worker, and that worker served the whole burst.
      const loads = commands.filter((c) => c.op === 'load' && c.model === 'burst');
      expect(loads).toHaveLength(1);
      const holding = await holders('burst');
      expect(holding).toHaveLength(1);
      expect(new Set(answers.map((a) => a.worker))).toEqual(new Set(holding));
    } finally {
      spy.disconnect();
    }
  });
});

describe('load failures (e2e)', () => {
  it('not enough memory: 507 insufficient_memory, admin and on demand, and the worker stays up', async () => {
    const admin = await call(stack.baseUrl, 'POST', '/admin/models/huge/load', {});
    expectError(admin, 507, 'insufficient_memory');
    expect(admin.json.error.message).toMatch(/Not enough memory to load 'huge': needs about \d+ MiB, \d+ MiB free/);
    const onDemand = await complete('huge');
    expectError(onDemand, 507, 'insufficient_memory');
    expect(await holders('huge')).toEqual([]);
    expect(w0.exitCode).toBeNull();
    expect(w1.exitCode).toBeNull();
    expect((await complete('pinned')).status).toBe(200);
  });

  it('a file llama.cpp refuses: 400 load_failed, admin and on demand, and the worker stays up', async () => {
    const admin = await call(stack.baseUrl, 'POST', '/admin/models/broken/load', { worker: 'worker-0' });
    expectError(admin, 400, 'load_failed');
    expect(admin.json.error.message).toContain("'broken' failed to load");
    const onDemand = await complete('broken');
    expectError(onDemand, 400, 'load_failed');
    // Not left behind as a model in the heartbeats, and both workers still serve.
    expect(await holders('broken')).toEqual([]);
    expect(w0.exitCode).toBeNull();
    expect(w1.exitCode).toBeNull();
    expect((await complete('pinned')).status).toBe(200);
    expect((await complete('solo-1')).status).toBe(200);
  });

  it('no answer within LOAD_TIMEOUT_MS: 504, admin and on demand', async () => {
    // A gateway replica whose loads may take 1 s (the least the config allows); the tiny model
    // loads faster, but `stuck`'s only worker is frozen and cannot answer at all.
    const short = await stack.addGateway({ LOAD_TIMEOUT_MS: '1000' });
    expect(await holders('stuck')).toEqual([]);
    w1.kill('SIGSTOP');
    let admin: Answer;
    let onDemand: Answer;
    const started = Date.now();
    try {
      [admin, onDemand] = await Promise.all([call(short, 'POST', '/admin/models/stuck/load', {}), complete('stuck', short)]);
    } finally {
      // Well inside the heartbeat's 6 s lifetime: the gateway never took the worker for dead.
      w1.kill('SIGCONT');
    }
    const elapsed = Date.now() - started;
    expectError(admin, 504, 'control_timeout');
    expect(admin.json.error.message).toContain('within 1000 ms');
    expectError(onDemand, 504, 'control_timeout');
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    // The commands were delivered, only late: the thawed worker carries them out.
    await waitUntil(async () => (await heartbeat('worker-1'))?.models.some((m) => m.name === 'stuck' && m.state === 'ready') ?? false, 30_000, 'worker-1 to load stuck after thawing', stack.logs);
    expect((await complete('stuck')).status).toBe(200);
  });
});
