/**
 * Each model's exact demand for workers, read from Redis when asked (KEDA's metrics-api scaler polls
 * GET /admin/autoscale): the jobs in its BullMQ queue by state (one getCounts script a queue, all
 * models' scripts sent together on one connection), the requests waiting for a first worker
 * (AwaitingWorker), and the live workers serving it. No Prometheus in between, so no scrape lag.
 */
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { REDIS_PREFIX, queueNameFor, type ModelDescriptor, type WorkerHeartbeat } from '@switchyard/contracts';
import { ModelControlService } from '../core/model-control.service';
import { RedisConnections } from '../core/redis-connections';
import { WorkerRegistry } from '../core/worker-registry.service';

export interface AutoscaleDepth {
  object: 'autoscale.depth';
  model: string;
  backend: string;
  /** waiting + prioritized + active + delayed + awaiting_worker: every job that needs or holds a worker. */
  depth: number;
  waiting: number;
  prioritized: number;
  active: number;
  delayed: number;
  awaiting_worker: number;
  /** Live workers with the model ready. */
  workers: number;
}

/** `paused` holds what `wait` would if the queue were paused: still demand, shown as waiting. */
const STATES = ['waiting', 'paused', 'prioritized', 'active', 'delayed'] as const;

/** The depth from BullMQ's counts and the waits for a worker (pure, so the sum is tested alone). */
export function toDepth(model: ModelDescriptor, counts: Partial<Record<(typeof STATES)[number], number>>, awaiting: number, workers: number): AutoscaleDepth {
  const waiting = (counts.waiting ?? 0) + (counts.paused ?? 0);
  const prioritized = counts.prioritized ?? 0;
  const active = counts.active ?? 0;
  const delayed = counts.delayed ?? 0;
  return {
    object: 'autoscale.depth',
    model: model.name,
    backend: model.backend,
    depth: waiting + prioritized + active + delayed + awaiting,
    waiting,
    prioritized,
    active,
    delayed,
    awaiting_worker: awaiting,
    workers,
  };
}

/** Live workers holding the model ready. */
export function servingWorkers(model: string, workers: readonly WorkerHeartbeat[]): number {
  return workers.filter((w) => w.models.some((m) => m.name === model && m.state === 'ready')).length;
}

@Injectable()
export class AutoscaleService implements OnApplicationShutdown {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redis: RedisConnections,
    private readonly registry: WorkerRegistry,
    private readonly control: ModelControlService,
  ) {}

  /** The depth of each model, from one read of the fleet and one count per queue, all in flight at once. */
  async depths(models: readonly ModelDescriptor[]): Promise<AutoscaleDepth[]> {
    // While Redis is down a read would wait in ioredis's offline queue; a scaler should get a 503 now.
    this.redis.assertReady();
    const [workers, rows] = await Promise.all([
      this.registry.workers(true),
      Promise.all(models.map(async (m) => Promise.all([this.queue(queueNameFor(m)).getJobCounts(...STATES), this.control.awaitingWorker(m)]))),
    ]);
    return models.map((m, i) => toDepth(m, rows[i][0], rows[i][1], servingWorkers(m.name, workers)));
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis.command, prefix: REDIS_PREFIX });
      this.queues.set(name, q);
    }
    return q;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}
