/**
 * A client that goes away stops its generation: the worker aborts and the slot serves the next
 * request at once (a model with one slot proves it).
 */
import Redis from 'ioredis';
import { busySlots, startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

let stack: Stack;
const MODEL = 'tiny-long';

beforeAll(async () => {
  const path = await tinyModel('tiny-long', { contextLength: 32768 });
  stack = await startStack({ models: [{ name: MODEL, path, parallel: 1, context_size: 32768 }] });
});
afterAll(async () => {
  await stack?.stop();
});

const countBusySlots = (): Promise<number> => busySlots(stack);

/** Time for a one-token request on the single slot. */
async function quickRequest(): Promise<number> {
  const started = Date.now();
  const res = await fetch(`${stack.baseUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: 'Hi', max_tokens: 1 }),
  });
  expect(res.status).toBe(200);
  await res.json();
  return Date.now() - started;
}

describe('cancellation (e2e)', () => {
  // A full-context generation takes many seconds on this model: long enough that a quick request
  // finishing fast proves the aborted one no longer holds the only slot.
  const long = { model: MODEL, prompt: 'Once', max_tokens: 30000, temperature: 0 };

  it('a streaming client that disconnects frees the slot for the next request', async () => {
    const controller = new AbortController();
    const res = await fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...long, stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    const took = await quickRequest();
    expect(took).toBeLessThan(1500);
  });

  it('a non-streaming client that disconnects frees the slot too', async () => {
    const controller = new AbortController();
    const pending = fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(long),
      signal: controller.signal,
    }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 800));
    controller.abort();
    expect(await pending).toHaveProperty('name', 'AbortError');
    const took = await quickRequest();
    expect(took).toBeLessThan(1500);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await countBusySlots()).toBe(0);
  });

  it('a waiting request whose client leaves is removed from the queue, not run', async () => {
    const first = new AbortController();
    const running = fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(long),
      signal: first.signal,
    }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 300));
    const second = new AbortController();
    const waiting = fetch(`${stack.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(long),
      signal: second.signal,
    }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 300));
    second.abort();
    await waiting;
    await new Promise((r) => setTimeout(r, 200));
    const r = new Redis(stack.redis.url);
    try {
      expect(await r.llen(`switchyard:llm.${MODEL}:wait`)).toBe(0);
    } finally {
      r.disconnect();
    }
    first.abort();
    await running;
    expect(await quickRequest()).toBeLessThan(1500);
  });
});
