/**
 * Failures the gateway fuzzer (`npm run fuzz`, docs/reliability.md) found, end to end: a chat
 * history whose `tool_calls` holds a non-object answered 500 (case #756 of seed 1); an llm worker
 * died of an unhandled "Connection is closed" from BullMQ when an unload came right after a load
 * (or under traffic), and the unload request whose worker died waited for a reply that never came.
 */
import Redis from 'ioredis';
import { startStack, tinyModel, waitForWorker, type Stack } from './support/stack';

jest.setTimeout(240_000);

/** The tiny models' end-of-generation token (<|im_end|>), banned so that streams run long. */
const EOS = 260;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- OpenAI and admin bodies of many shapes
type Json = any;

let stack: Stack;

async function post(path: string, body: object): Promise<{ status: number; json: Json; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, ms: Date.now() - started };
}

/** A model's state in one worker's heartbeat, or undefined when the worker does not hold it. */
async function heldState(redis: Redis, worker: string, model: string): Promise<string | undefined> {
  const raw = await redis.get(`switchyard:worker:${worker}`);
  if (!raw) return undefined;
  return (JSON.parse(raw) as { models: Array<{ name: string; state: string }> }).models.find((m) => m.name === model)?.state;
}

async function until(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}\n${stack.logs.join('')}`);
}

function expectWorkerAlive(): void {
  const w = stack.worker!;
  if (w.exitCode !== null || w.signalCode !== null) throw new Error(`worker-0 died (${w.exitCode ?? w.signalCode})\n${stack.logs.join('')}`);
}

/** A long streamed completion on `model`; resolves to its whole SSE body. */
function longStream(model: string, maxTokens = 400): Promise<{ status: number; text: string }> {
  return (async () => {
    const res = await fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'Once upon a time', max_tokens: maxTokens, stream: true, logit_bias: { [EOS]: -100 } }),
    });
    return { status: res.status, text: await res.text() };
  })();
}

beforeAll(async () => {
  const path = await tinyModel('tiny-chat');
  stack = await startStack({
    models: [
      { name: 'resident', path, context_size: 512, parallel: 2 },
      { name: 'spare', path, context_size: 128, parallel: 1, preload: false, auto_load: false },
    ],
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('non-object elements of user arrays (fuzz #756)', () => {
  const history = (toolCalls: unknown[]): object[] => [
    { role: 'user', content: 'weather?' },
    { role: 'assistant', content: null, tool_calls: toolCalls },
    { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
  ];

  it.each([[[null]], [[1]], [['call']], [[[]]]])('chat with tool_calls %j is a 400 naming the element', async (toolCalls) => {
    const r = await post('/v1/chat/completions', { model: 'resident', max_tokens: 2, messages: history(toolCalls) });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'invalid_request_error', param: 'messages[1].tool_calls[0]' });
  });

  it('/apply-template with tool_calls [null] is a 400 naming the element', async () => {
    const r = await post('/apply-template', { model: 'resident', messages: history([null]) });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'invalid_request_error', param: 'messages[1].tool_calls[0]' });
  });
});

describe('unloads never kill a worker', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(stack.redis.url);
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('survives an unload queued behind a load, so it runs the moment the model is up', async () => {
    for (let round = 0; round < 12; round++) {
      const load = post('/admin/models/spare/load', {});
      // The worker says "loading" before it loads; an unload sent now waits behind the load command.
      await until('spare loading', async () => (await heldState(redis, 'worker-0', 'spare')) !== undefined);
      const unload = await post('/admin/models/spare/unload', { drain_ms: 0 });
      expect((await load).status).toBe(200);
      expect(unload.status).toBe(200);
      expectWorkerAlive();
    }
    // And the worker still serves.
    const r = await post('/v1/completions', { model: 'resident', prompt: 'Hi', max_tokens: 2 });
    expect(r.status).toBe(200);
    expectWorkerAlive();
  });

  it('survives unloading every model with drain_ms 0 under traffic, and loading them again', async () => {
    for (let round = 0; round < 4; round++) {
      const streams = [longStream('resident'), longStream('resident')];
      await new Promise((r) => setTimeout(r, 300));
      await post('/admin/models/spare/load', {});
      const [a, b] = await Promise.all([post('/admin/models/resident/unload', { drain_ms: 0 }), post('/admin/models/spare/unload', { drain_ms: 0 })]);
      expect([a.status, b.status]).toEqual([200, 200]);
      for (const s of await Promise.all(streams)) {
        expect(s.status).toBe(200);
        // Cut by the unload: a final error event, never a silent end.
        expect(s.text).toMatch(/model_unloaded|\[DONE\]/);
      }
      expectWorkerAlive();
      expect((await post('/admin/models/resident/load', {})).status).toBe(200);
      expectWorkerAlive();
    }
  });
});

describe('a control command whose worker dies', () => {
  /** Freezes worker-0 (so the command is never run), sends an unload, then kills the worker. */
  async function unloadOnDyingWorker(): Promise<Promise<{ status: number; json: Json; ms: number }>> {
    await waitForWorker(stack, ['resident']);
    const old = stack.worker!;
    old.kill('SIGSTOP');
    // Without an answer the gateway would wait drain_ms + LOAD_TIMEOUT_MS (2 minutes) for the reply.
    const unload = post('/admin/models/resident/unload', { drain_ms: 1000 });
    await new Promise((r) => setTimeout(r, 500));
    old.kill('SIGKILL');
    await new Promise((r) => old.once('exit', r));
    stack.worker = undefined;
    return unload;
  }

  it('is answered 502 worker_lost soon after the worker is restarted under its id (as the launcher does)', async () => {
    const unload = await unloadOnDyingWorker();
    stack.addWorker('worker-0');
    const r = await unload;
    expect(r.status).toBe(502);
    expect(r.json.error).toMatchObject({ type: 'server_error', code: 'worker_lost' });
    expect(r.ms).toBeLessThan(30_000);
  });

  it('is answered 502 worker_lost once a worker that stays dead has lost its heartbeat', async () => {
    const unload = await unloadOnDyingWorker();
    const r = await unload;
    expect(r.status).toBe(502);
    expect(r.json.error).toMatchObject({ type: 'server_error', code: 'worker_lost' });
    expect(r.ms).toBeLessThan(30_000);
  });
});
