/**
 * The gateway's view of the fleet, read from worker heartbeats (cached briefly so a busy gateway
 * does not read Redis on every request): who is alive, what each holds, where a model can go.
 */
import { Injectable } from '@nestjs/common';
import { WORKERS_SET_KEY, workerHeartbeatKey, type WorkerHeartbeat, type WorkerModelState } from '@switchyard/contracts';
import { RedisConnections } from './redis-connections';

const CACHE_MS = 250;

export interface Placement {
  worker: WorkerHeartbeat;
  model: WorkerModelState;
}

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
    return live.sort((a, b) => a.id.localeCompare(b.id));
  }

  async isAlive(workerId: string): Promise<boolean> {
    return (await this.redis.command.exists(workerHeartbeatKey(workerId))) === 1;
  }

  /** Every live worker's entry for the model. */
  async placements(model: string, fresh = false): Promise<Placement[]> {
    const out: Placement[] = [];
    for (const worker of await this.workers(fresh)) {
      const m = worker.models.find((x) => x.name === model);
      if (m) out.push({ worker, model: m });
    }
    return out;
  }

  /** True when some live worker has the model ready. */
  async serves(model: string, fresh = false): Promise<boolean> {
    return (await this.placements(model, fresh)).some((p) => p.model.state === 'ready');
  }

  /** True when some live worker is loading it (a request should wait rather than start a load). */
  async loading(model: string, fresh = false): Promise<boolean> {
    return (await this.placements(model, fresh)).some((p) => p.model.state === 'loading');
  }

  /** The live worker that may serve the model and has the most free memory, without it loaded. */
  async bestWorkerFor(model: string): Promise<WorkerHeartbeat | undefined> {
    const candidates = (await this.workers(true)).filter(
      (w) => w.servable.includes(model) && !w.models.some((m) => m.name === model && m.state !== 'failed'),
    );
    return candidates.sort((a, b) => b.freeMemory - a.freeMemory)[0];
  }
}
