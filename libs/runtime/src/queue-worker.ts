/**
 * A worker that serves models behind their queues, wired once for every backend: its publisher and
 * subscriber connections to Redis, the cancel listener, and the WorkerLifecycle whose hosts are
 * QueueHosts. The app supplies its models and, for each load, the descriptor (with the load's args
 * applied), the engine and the host options; `stop` drains, frees and disconnects.
 */
import type Redis from 'ioredis';
import type { Backend, LoadArgs } from '@switchyard/contracts';
import { CancelListener } from './cancel-listener';
import type { WorkerEnv } from './env';
import type { Logger } from './logger';
import type { ModelEngine } from './model-engine';
import { QueueHost, type HostedDescriptor, type QueueHostOptions } from './queue-host';
import { createRedis } from './redis';
import { WorkerLifecycle } from './worker-lifecycle';
import { WorkerMetrics } from './worker-metrics';

/** How one load is served. */
export interface HostPlan<D, J extends { kind: string }> {
  descriptor: D;
  engine: ModelEngine<J>;
  options: Omit<QueueHostOptions, 'backend'>;
}

export interface QueueWorkerOptions<D extends HostedDescriptor & { preload: boolean }, J extends { kind: string }> {
  env: WorkerEnv;
  workerId: string;
  backend: Backend;
  /** Short name for the Redis connection names (`switchyard-<kind>-pub-<id>`). */
  kind: string;
  models: readonly D[];
  log: Logger;
  /** Checks a load (files, memory, args) and says how to serve it; throws CommandError to refuse. */
  prepare(base: D, args: LoadArgs): HostPlan<D, J>;
  /** See WorkerLifecycleOptions.fixedModels. */
  fixedModels?: (model: string) => string;
}

export class QueueWorker<D extends HostedDescriptor & { preload: boolean }, J extends { kind: string; keepAliveMs?: number }> {
  private constructor(
    private readonly lifecycle: WorkerLifecycle<D, QueueHost<D, J>>,
    private readonly connections: Redis[],
  ) {}

  /** Connects, listens for cancels and commands, and loads the models that start loaded. */
  static async start<D extends HostedDescriptor & { preload: boolean }, J extends { kind: string; keepAliveMs?: number }>(o: QueueWorkerOptions<D, J>): Promise<QueueWorker<D, J>> {
    const publisher = createRedis(o.env.REDIS_URL, `switchyard-${o.kind}-pub-${o.workerId}`);
    const subscriber = createRedis(o.env.REDIS_URL, `switchyard-${o.kind}-sub-${o.workerId}`);
    const cancels = new CancelListener(subscriber);
    await cancels.start();
    const metrics = o.env.METRICS === 'off' ? undefined : new WorkerMetrics(o.backend, o.workerId);
    const deps = { redisUrl: o.env.REDIS_URL, publisher, cancels, workerId: o.workerId, logger: o.log, metrics };
    const lifecycle = new WorkerLifecycle<D, QueueHost<D, J>>({
      workerId: o.workerId,
      backend: o.backend,
      publisher,
      subscriber,
      models: o.models,
      log: o.log,
      shutdownDrainMs: o.env.SHUTDOWN_DRAIN_MS,
      fixedModels: o.fixedModels,
      metrics,
      http: o.env.WORKER_HTTP_PORT === undefined ? undefined : { port: o.env.WORKER_HTTP_PORT, host: o.env.WORKER_HTTP_HOST },
      prepare: (base, args) => {
        const plan = o.prepare(base, args);
        return new QueueHost(plan.descriptor, plan.engine, { ...plan.options, backend: o.backend }, deps);
      },
    });
    const worker = new QueueWorker(lifecycle, [publisher, subscriber]);
    await lifecycle.start();
    return worker;
  }

  /** Stops taking commands and jobs, drains and frees every model, says goodbye, disconnects. */
  async stop(): Promise<void> {
    await this.lifecycle.stop();
    for (const c of this.connections) c.disconnect();
  }
}
