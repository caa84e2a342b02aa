/**
 * The gateway's view of live workers, read from their heartbeats (cached briefly so a busy gateway
 * does not read Redis on every request).
 */
import { Injectable } from '@nestjs/common';
import { WORKERS_SET_KEY, workerHeartbeatKey, type WorkerHeartbeat } from '@switchyard/contracts';
import { RedisConnections } from './redis-connections';

const CACHE_MS = 250;

@Injectable()
export class WorkerRegistry {
  private cached: { at: number; workers: Promise<WorkerHeartbeat[]> } | undefined;

  constructor(private readonly redis: RedisConnections) {}

  workers(fresh = false): Promise<WorkerHeartbeat[]> {
    if (!fresh && this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.workers;
    const workers = this.read();
    this.cached = { at: Date.now(), workers };
    workers.catch(() => (this.cached = undefined));
    return workers;
  }

  private async read(): Promise<WorkerHeartbeat[]> {
    const r = this.redis.command;
    const ids = await r.smembers(WORKERS_SET_KEY);
    if (ids.length === 0) return [];
    const values = await r.mget(ids.map(workerHeartbeatKey));
    const live: WorkerHeartbeat[] = [];
    const gone: string[] = [];
    values.forEach((v, i) => (v === null ? gone.push(ids[i]) : live.push(JSON.parse(v) as WorkerHeartbeat)));
    if (gone.length > 0) await r.srem(WORKERS_SET_KEY, ...gone);
    return live;
  }

  async isAlive(workerId: string): Promise<boolean> {
    return (await this.redis.command.exists(workerHeartbeatKey(workerId))) === 1;
  }

  /** True when some live worker has the model ready. */
  async serves(model: string, fresh = false): Promise<boolean> {
    const workers = await this.workers(fresh);
    return workers.some((w) => w.models.some((m) => m.name === model && m.state === 'ready'));
  }

  /** Waits up to `ms` for a worker to serve the model (one may be starting or loading it). */
  async waitForModel(model: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + ms;
    if (await this.serves(model)) return true;
    while (Date.now() < deadline && !signal?.aborted) {
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
      if (await this.serves(model, true)) return true;
    }
    return false;
  }
}
