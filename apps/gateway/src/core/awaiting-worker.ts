/**
 * Demand for a model nobody serves yet, shared by every gateway replica: while a request waits for a
 * worker (ModelControlService.ensureServed) each of its jobs is a member of the model's sorted set
 * (`awaitingWorkerKey`), scored by when it expires. Such a request is not in the queue yet, so
 * without this an autoscaler reading queue depth would never start a model's first worker.
 *
 * An entry lives AWAITING_TTL_MS and this gateway pushes the expiry of its own entries on every
 * AWAITING_REFRESH_MS (one ZADD per model for all its waits), so a wait may last as long as
 * WORKER_WAIT_MS says while the entries of a gateway that died stop counting within the TTL.
 * Readers count only unexpired entries; expired ones are dropped on the next write.
 */
import type Redis from 'ioredis';

/** How long an entry counts without a refresh (a dead gateway's waits vanish within this). */
export const AWAITING_TTL_MS = 15_000;
/** How often a live gateway pushes its entries' expiry forward: well inside the TTL. */
export const AWAITING_REFRESH_MS = 5_000;

export class AwaitingWorker {
  /** This gateway's waits: sorted-set key to its members here. */
  private readonly waits = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly clock: () => number = Date.now,
    private readonly refreshMs = AWAITING_REFRESH_MS,
  ) {}

  /** Records the members as waiting on `key`; visible to every reader once this resolves. */
  async add(key: string, members: readonly string[]): Promise<void> {
    if (members.length === 0) return;
    let mine = this.waits.get(key);
    if (!mine) this.waits.set(key, (mine = new Set()));
    for (const m of members) mine.add(m);
    this.timer ??= setInterval(() => void this.refresh(), this.refreshMs).unref();
    await this.write(key, members);
  }

  /**
   * The wait is over (served, given up, or the client left). Commands on one connection run in the
   * order they were sent, so a refresh sent earlier cannot bring the members back.
   */
  async remove(key: string, members: readonly string[]): Promise<void> {
    if (members.length === 0) return;
    const mine = this.waits.get(key);
    for (const m of members) mine?.delete(m);
    if (mine?.size === 0) this.waits.delete(key);
    if (this.waits.size === 0) this.stop();
    await this.redis.zrem(key, ...members);
  }

  /** Waits on `key` that have not expired, over all gateways. */
  async count(key: string): Promise<number> {
    return this.redis.zcount(key, `(${this.clock()}`, '+inf');
  }

  /** Stops refreshing (shutdown): the entries left expire by themselves. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async refresh(): Promise<void> {
    // A failed refresh (Redis briefly away) is retried by the next tick, well inside the TTL.
    await Promise.allSettled([...this.waits].map(([key, members]) => this.write(key, [...members])));
  }

  private async write(key: string, members: readonly string[]): Promise<void> {
    const now = this.clock();
    const expires = now + AWAITING_TTL_MS;
    await this.redis
      .multi()
      .zremrangebyscore(key, '-inf', now)
      .zadd(key, ...members.flatMap((m) => [expires, m]))
      // The key itself goes once no gateway refreshes it, so dead models leave nothing behind.
      .pexpire(key, AWAITING_TTL_MS)
      .exec();
  }
}
