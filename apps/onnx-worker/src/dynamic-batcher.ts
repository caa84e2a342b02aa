/**
 * Dynamic batching: inputs from concurrent jobs are merged into one model run and split back per
 * job. A batch starts when it is full (`maxBatch`), when no other job that could join is still on
 * its way (so a lone request never waits), or after `maxWaitMs`; one batch runs at a time and the
 * inputs that arrive meanwhile form the next.
 */

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** True while some job the worker holds has not submitted its inputs yet (it may join). */
  othersComing?: () => boolean;
}

interface Pending<I, O> {
  item: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
  at: number;
}

export interface BatcherStats {
  runs: number;
  items: number;
  largest: number;
}

export class DynamicBatcher<I, O> {
  private readonly queue: Array<Pending<I, O>> = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  readonly stats: BatcherStats = { runs: 0, items: 0, largest: 0 };

  constructor(
    /** Runs one batch; must return one output per input, in order. */
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: BatcherOptions,
  ) {
    if (options.maxBatch < 1) throw new Error('maxBatch must be at least 1');
  }

  /** Queues one job's inputs; resolves with their outputs in order (they may span batches). */
  submit(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    const now = Date.now();
    const outputs = items.map(
      (item) => new Promise<O>((resolve, reject) => this.queue.push({ item, resolve, reject, at: now })),
    );
    this.schedule();
    return Promise.all(outputs);
  }

  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const waited = Date.now() - this.queue[0].at;
    const full = this.queue.length >= this.options.maxBatch;
    const nobodyElse = !(this.options.othersComing?.() ?? false);
    if (full || nobodyElse || waited >= this.options.maxWaitMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, this.options.maxWaitMs - waited);
  }

  /** Wakes the batcher when a job that was on its way will not submit after all. */
  poke(): void {
    this.schedule();
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.options.maxBatch);
    this.running = true;
    this.stats.runs++;
    this.stats.items += batch.length;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    try {
      const outputs = await this.run(batch.map((p) => p.item));
      if (outputs.length !== batch.length) throw new Error(`batch of ${batch.length} returned ${outputs.length} outputs`);
      batch.forEach((p, i) => p.resolve(outputs[i]));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  /** Fails everything still queued (the model is going away). */
  close(reason: Error): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const p of this.queue.splice(0)) p.reject(reason);
  }
}
