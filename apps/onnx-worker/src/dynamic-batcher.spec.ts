import { DynamicBatcher } from './dynamic-batcher';

/** A run that records its batches and resolves when told to. */
function recorder(): { batches: number[][]; run: (items: number[]) => Promise<number[]>; release: () => void } {
  const batches: number[][] = [];
  let gates: Array<() => void> = [];
  return {
    batches,
    run: (items) => {
      batches.push(items);
      return new Promise((resolve) => gates.push(() => resolve(items.map((x) => x * 10))));
    },
    release: () => {
      const open = gates;
      gates = [];
      open.forEach((g) => g());
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('DynamicBatcher', () => {
  it('runs a lone job at once when nobody else is coming', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, { maxBatch: 8, maxWaitMs: 10_000, othersComing: () => false });
    const out = b.submit([1, 2]);
    expect(r.batches).toEqual([[1, 2]]);
    r.release();
    await expect(out).resolves.toEqual([10, 20]);
  });

  it('merges jobs that arrive while others are coming, and splits the outputs back in order', async () => {
    const r = recorder();
    let coming = 2;
    const b = new DynamicBatcher(r.run, { maxBatch: 8, maxWaitMs: 10_000, othersComing: () => coming > 0 });
    const a = b.submit([1]);
    coming--;
    const c = b.submit([2, 3]);
    expect(r.batches).toEqual([]);
    coming--;
    const d = b.submit([4]);
    expect(r.batches).toEqual([[1, 2, 3, 4]]);
    r.release();
    await expect(Promise.all([a, c, d])).resolves.toEqual([[10], [20, 30], [40]]);
    expect(b.stats).toEqual({ runs: 1, items: 4, largest: 4 });
  });

  it('starts a waiting batch after maxWaitMs even if a job it waits for never comes', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, { maxBatch: 8, maxWaitMs: 20, othersComing: () => true });
    const out = b.submit([5]);
    expect(r.batches).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(r.batches).toEqual([[5]]);
    r.release();
    await expect(out).resolves.toEqual([50]);
  });

  it('poke starts the batch when the job it waited for left without joining', async () => {
    const r = recorder();
    let coming = true;
    const b = new DynamicBatcher(r.run, { maxBatch: 8, maxWaitMs: 10_000, othersComing: () => coming });
    const out = b.submit([7]);
    coming = false;
    b.poke();
    expect(r.batches).toEqual([[7]]);
    r.release();
    await out;
  });

  it('never exceeds maxBatch; one batch runs at a time and the next starts when it ends', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, { maxBatch: 3, maxWaitMs: 10_000, othersComing: () => false });
    const first = b.submit([1, 2, 3, 4, 5, 6, 7]);
    expect(r.batches).toEqual([[1, 2, 3]]);
    const second = b.submit([8]);
    expect(r.batches).toHaveLength(1);
    r.release();
    await tick();
    expect(r.batches).toEqual([[1, 2, 3], [4, 5, 6]]);
    r.release();
    await tick();
    expect(r.batches[2]).toEqual([7, 8]);
    r.release();
    await expect(first).resolves.toEqual([10, 20, 30, 40, 50, 60, 70]);
    await expect(second).resolves.toEqual([80]);
  });

  it('a failed run fails the jobs in it, not later ones', async () => {
    let calls = 0;
    const b = new DynamicBatcher(
      (items: number[]) => (++calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(items)),
      { maxBatch: 1, maxWaitMs: 0 },
    );
    const bad = b.submit([1]);
    const good = b.submit([2]);
    await expect(bad).rejects.toThrow('boom');
    await expect(good).resolves.toEqual([2]);
  });

  it('a run returning the wrong number of outputs is an error, and close fails what waits', async () => {
    const b = new DynamicBatcher((items: number[]) => Promise.resolve(items.slice(1)), { maxBatch: 4, maxWaitMs: 0 });
    await expect(b.submit([1, 2])).rejects.toThrow('returned 1 outputs');
    const waiting = new DynamicBatcher(() => new Promise<number[]>(() => undefined), { maxBatch: 1, maxWaitMs: 0 });
    void waiting.submit([1]);
    const queued = waiting.submit([2]);
    waiting.close(new Error('unloaded'));
    await expect(queued).rejects.toThrow('unloaded');
  });
});
