/**
 * Integration test (real redis-server): waits for a worker are counted across gateways, end when
 * removed, keep counting while their gateway refreshes them, and stop counting once a dead
 * gateway's entries expire.
 */
import Redis from 'ioredis';
import { startLocalRedis, type LocalRedis } from '@switchyard/runtime';
import { AWAITING_TTL_MS, AwaitingWorker } from './awaiting-worker';

describe('AwaitingWorker (integration)', () => {
  let local: LocalRedis;
  let redis: Redis;
  const opened: AwaitingWorker[] = [];
  let n = 0;
  let key = '';

  beforeAll(async () => {
    local = await startLocalRedis();
    redis = new Redis(local.url);
  });
  beforeEach(() => {
    key = `switchyard:awaiting:llm.test-${++n}`;
  });
  afterEach(() => {
    for (const a of opened.splice(0)) a.stop();
  });
  afterAll(async () => {
    redis?.disconnect();
    await local?.stop();
  });

  function gateway(clock: () => number = Date.now, refreshMs?: number): AwaitingWorker {
    const a = new AwaitingWorker(redis, clock, refreshMs);
    opened.push(a);
    return a;
  }

  it('counts the waits of two gateways together, and each one only until it is removed', async () => {
    const a = gateway();
    const b = gateway();
    await a.add(key, ['a1', 'a2']);
    await b.add(key, ['b1']);
    expect(await a.count(key)).toBe(3);
    expect(await b.count(key)).toBe(3);
    await a.remove(key, ['a1']);
    expect(await b.count(key)).toBe(2);
    await Promise.all([a.remove(key, ['a2']), b.remove(key, ['b1'])]);
    expect(await a.count(key)).toBe(0);
    expect(await redis.exists(key)).toBe(0);
  });

  it("stops counting a dead gateway's waits once their TTL has passed", async () => {
    let now = Date.now();
    const dead = gateway(() => now);
    await dead.add(key, ['x']);
    dead.stop(); // it never removes nor refreshes again
    const reader = gateway(() => now);
    now += AWAITING_TTL_MS - 1;
    expect(await reader.count(key)).toBe(1);
    now += 2;
    expect(await reader.count(key)).toBe(0);
    // The key itself expires with the entries, so nothing stays behind in Redis.
    expect(await redis.pttl(key)).toBeLessThanOrEqual(AWAITING_TTL_MS);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    // The next write drops the expired entry.
    const live = gateway(() => now);
    await live.add(key, ['y']);
    expect(await redis.zrange(key, 0, -1)).toEqual(['y']);
  });

  it('keeps a long wait counted by refreshing its expiry, and a removal is not undone by a refresh', async () => {
    let now = Date.now();
    const waiter = gateway(() => now, 20);
    await waiter.add(key, ['long']);
    const firstExpiry = Number(await redis.zscore(key, 'long'));
    now += AWAITING_TTL_MS - 1000;
    await until(async () => Number(await redis.zscore(key, 'long')) > firstExpiry);
    const reader = gateway(() => now + 5000);
    expect(await reader.count(key)).toBe(1);
    await waiter.remove(key, ['long']);
    await new Promise((r) => setTimeout(r, 80));
    expect(await reader.count(key)).toBe(0);
    expect(await redis.exists(key)).toBe(0);
  });

  it('writes nothing for a wait without jobs (a job already in the queue)', async () => {
    const a = gateway();
    await a.add(key, []);
    await a.remove(key, []);
    expect(await redis.exists(key)).toBe(0);
  });
});

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
