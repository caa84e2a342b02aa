/**
 * Drops the work of gateways that died. Every job carries the id of the gateway waiting on its
 * events (`owner`); a job taken whose owner's heartbeat is gone is skipped, and a running one is
 * cancelled through the job's ordinary cancel channel (so each host aborts it the way it aborts a
 * client's cancel). One batched EXISTS round trip per check covers every running job.
 */
import type { Job, Processor } from 'bullmq';
import type Redis from 'ioredis';
import { GATEWAY_HEARTBEAT_INTERVAL_MS, GATEWAY_HEARTBEAT_TTL_MS, gatewayHeartbeatKey, jobCancelChannel, jobCancelKey } from '@switchyard/contracts';
import type { Logger } from './logger';

const CHECK_MS = 1000;
/**
 * After this connection (re)connects, a missing owner key proves nothing: a restarted Redis is
 * empty until each gateway rewrites its key (at once on reconnect, then every second).
 */
const RECONNECT_GRACE_MS = 3 * GATEWAY_HEARTBEAT_INTERVAL_MS;
/** An owner seen alive this recently needs no round trip when one of its jobs is taken. */
const ALIVE_CACHE_MS = GATEWAY_HEARTBEAT_INTERVAL_MS;

export function jobOwner(data: unknown): string | undefined {
  const owner = (data as { owner?: unknown } | null)?.owner;
  return typeof owner === 'string' && owner.length > 0 ? owner : undefined;
}

export class OwnerWatch {
  /** Running job id → its owner. */
  private readonly running = new Map<string, string>();
  private readonly seenAlive = new Map<string, number>();
  /** Owners missing at the previous check: two misses in a row make an owner gone. */
  private missing = new Set<string>();
  private readyAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {
    redis.on('ready', () => (this.readyAt = Date.now()));
    if (redis.status === 'ready') this.readyAt = Date.now();
  }

  /** Wraps a queue processor: skips jobs whose owner is gone, watches the owners of running ones. */
  wrap<T>(process: Processor<T, unknown>): Processor<T, unknown> {
    return async (job: Job<T, unknown>, token?: string, signal?: AbortSignal) => {
      const owner = jobOwner(job.data);
      const jobId = job.id;
      if (owner === undefined || jobId === undefined) return process(job, token, signal);
      if (await this.ownerGone(owner)) {
        this.log.info('dropping the job of a gateway that is gone', { jobId, owner });
        return undefined;
      }
      this.running.set(jobId, owner);
      this.timer ??= setInterval(() => void this.check(), CHECK_MS).unref();
      try {
        return await process(job, token, signal);
      } finally {
        this.running.delete(jobId);
        if (this.running.size === 0) this.stop();
      }
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.missing.clear();
  }

  private settled(): boolean {
    return this.redis.status === 'ready' && Date.now() - this.readyAt >= RECONNECT_GRACE_MS;
  }

  private async ownerGone(owner: string): Promise<boolean> {
    if (Date.now() - (this.seenAlive.get(owner) ?? 0) < ALIVE_CACHE_MS || !this.settled()) return false;
    try {
      if ((await this.redis.exists(gatewayHeartbeatKey(owner))) === 1) {
        this.seenAlive.set(owner, Date.now());
        return false;
      }
      return this.settled();
    } catch {
      return false;
    }
  }

  private async check(): Promise<void> {
    if (this.checking || !this.settled()) return;
    this.checking = true;
    try {
      const owners = [...new Set(this.running.values())];
      const pipe = this.redis.pipeline();
      for (const o of owners) pipe.exists(gatewayHeartbeatKey(o));
      const replies = (await pipe.exec()) ?? [];
      if (!this.settled()) return;
      const now = Date.now();
      const missing = new Set<string>();
      owners.forEach((o, i) => {
        const [err, n] = replies[i] ?? [null, 1];
        if (err === null && n === 0) missing.add(o);
        else if (err === null) this.seenAlive.set(o, now);
      });
      const gone = [...missing].filter((o) => this.missing.has(o));
      this.missing = missing;
      for (const [o, at] of this.seenAlive) if (now - at > GATEWAY_HEARTBEAT_TTL_MS) this.seenAlive.delete(o);
      if (gone.length > 0) await this.cancelJobsOf(new Set(gone));
    } catch (err) {
      this.log.warn('owner check failed', { error: (err as Error).message });
    } finally {
      this.checking = false;
    }
  }

  private async cancelJobsOf(gone: Set<string>): Promise<void> {
    const jobs = [...this.running].filter(([, o]) => gone.has(o)).map(([id]) => id);
    this.log.warn('cancelling the jobs of a gateway that is gone', { owners: [...gone], jobs: jobs.length });
    const multi = this.redis.multi();
    for (const id of jobs) multi.set(jobCancelKey(id), '1', 'EX', 600).publish(jobCancelChannel(id), '1');
    await multi.exec();
  }
}
