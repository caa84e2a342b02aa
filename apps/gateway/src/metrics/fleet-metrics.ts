/**
 * Gauges of the fleet and the queues, read from Redis when Prometheus scrapes (never on a request's
 * path): live workers by kind, the models each holds and their state, slots and busy slots per
 * model (from worker heartbeats), and each configured model's jobs waiting, running, delayed and
 * prioritized (BullMQ's own counts), and the requests waiting for a model nobody serves yet (across
 * gateways, the scale-from-zero demand). The read is bounded: when Redis is down or slow a scrape gets
 * `switchyard_redis_up 0` and no stale fleet values, at once.
 */
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { REDIS_PREFIX, queueNameFor, type Backend, type WorkerHeartbeat } from '@switchyard/contracts';
import { ModelCatalogService } from '../core/model-catalog.service';
import { ModelControlService } from '../core/model-control.service';
import { RedisConnections } from '../core/redis-connections';
import { WorkerRegistry } from '../core/worker-registry.service';

/** A scrape waits this long for Redis at most (Prometheus' default scrape timeout is 10 s). */
const READ_TIMEOUT_MS = 1500;

const KINDS: readonly Backend[] = ['llama.cpp', 'onnx', 'upstream', 'runner'];
/** BullMQ states shown per model: `waiting` and `prioritized` are both jobs not yet started. */
const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed'] as const;

interface Snapshot {
  workers: WorkerHeartbeat[];
  queues: Array<{ model: string; counts: Record<string, number>; awaiting: number }>;
}

@Injectable()
export class FleetMetrics implements OnApplicationShutdown {
  private readonly queues = new Map<string, Queue>();
  private gauges: Record<'redisUp' | 'workers' | 'modelsLoaded' | 'modelState' | 'slots' | 'busy' | 'queueJobs' | 'awaiting', Gauge> | undefined;

  constructor(
    private readonly redis: RedisConnections,
    private readonly registry: WorkerRegistry,
    private readonly catalog: ModelCatalogService,
    private readonly control: ModelControlService,
  ) {}

  register(registers: Registry[]): void {
    this.gauges = {
      redisUp: new Gauge({ name: 'switchyard_redis_up', help: '1 when this scrape read the fleet and queues from Redis in time, else 0 (the fleet gauges are then absent).', registers }),
      workers: new Gauge({ name: 'switchyard_fleet_workers', help: 'Live workers (a heartbeat in Redis), by kind (llama.cpp, onnx, upstream, runner).', labelNames: ['kind'], registers }),
      modelsLoaded: new Gauge({ name: 'switchyard_fleet_models_loaded', help: 'Models ready on each live worker.', labelNames: ['worker', 'kind'], registers }),
      modelState: new Gauge({ name: 'switchyard_fleet_model_state', help: '1 for each model a live worker holds, labelled with its state (loading, ready, unloading, failed).', labelNames: ['worker', 'model', 'state'], registers }),
      slots: new Gauge({ name: 'switchyard_fleet_slots', help: 'Parallel slots of each model over the live workers holding it ready.', labelNames: ['model'], registers }),
      busy: new Gauge({ name: 'switchyard_fleet_slots_busy', help: 'Slots running a job now, by model, over the live workers.', labelNames: ['model'], registers }),
      queueJobs: new Gauge({ name: 'switchyard_queue_jobs', help: "Jobs in each model's queue by BullMQ state (waiting, prioritized, active, delayed).", labelNames: ['model', 'state'], registers }),
      awaiting: new Gauge({ name: 'switchyard_requests_awaiting_worker', help: 'Jobs of requests waiting, on any gateway, for a worker to serve a model nobody serves yet (not in the queue until one does).', labelNames: ['model'], registers }),
    };
  }

  /** Reads Redis once for every gauge; what took longer than the bound is dropped, not applied later. */
  async refresh(): Promise<void> {
    const g = this.gauges;
    if (!g) return;
    const snapshot = this.redis.ready ? await withTimeout(this.read(), READ_TIMEOUT_MS) : undefined;
    for (const gauge of Object.values(g)) gauge.reset();
    g.redisUp.set(snapshot ? 1 : 0);
    if (!snapshot) return;
    for (const kind of KINDS) g.workers.set({ kind }, snapshot.workers.filter((w) => w.backend === kind).length);
    const slots = new Map<string, number>();
    const busy = new Map<string, number>();
    for (const w of snapshot.workers) {
      g.modelsLoaded.set({ worker: w.id, kind: w.backend }, w.models.filter((m) => m.state === 'ready').length);
      for (const m of w.models) {
        g.modelState.set({ worker: w.id, model: m.name, state: m.state }, 1);
        if (m.state === 'ready') slots.set(m.name, (slots.get(m.name) ?? 0) + m.slots);
        busy.set(m.name, (busy.get(m.name) ?? 0) + m.busy);
      }
    }
    for (const [model, n] of slots) g.slots.set({ model }, n);
    for (const [model, n] of busy) g.busy.set({ model }, n);
    for (const { model, counts, awaiting } of snapshot.queues) {
      for (const state of QUEUE_STATES) g.queueJobs.set({ model, state }, counts[state] ?? 0);
      g.awaiting.set({ model }, awaiting);
    }
  }

  private async read(): Promise<Snapshot> {
    const models = this.catalog.models;
    const [workers, queues] = await Promise.all([
      this.registry.workers(),
      Promise.all(
        models.map(async (m) => {
          const [counts, awaiting] = await Promise.all([this.queue(queueNameFor(m)).getJobCounts(...QUEUE_STATES), this.control.awaitingWorker(m)]);
          return { model: m.name, counts, awaiting };
        }),
      ),
    ]);
    return { workers, queues };
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

/** The value, or undefined when it failed or took longer than `ms`. */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
