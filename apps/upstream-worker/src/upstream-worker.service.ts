/**
 * The upstream worker: serves every upstream model of the models file (or WORKER_MODELS), each a
 * QueueHost running the upstream engine (libs/upstream). The shared WorkerLifecycle sends the
 * heartbeats gateways route by, answers admin commands (an upstream model is always served: a load
 * is done at once, an unload refused) and drains on shutdown.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { UpstreamJobData, UpstreamModelDescriptor } from '@switchyard/contracts';
import { CancelListener, createRedis, Logger, QueueHost, serverErrorEvent, WORKER_ENV, WorkerLifecycle, workerIdFrom, workerModels, type QueueHostDeps } from '@switchyard/runtime';
import { UpstreamJobEngine } from '@switchyard/upstream';
import type { UpstreamWorkerEnv } from './upstream-worker-config';

const stopping = (): ReturnType<typeof serverErrorEvent> => serverErrorEvent(503, 'worker_stopping', 'The worker serving this request is shutting down. Retry the request.');

@Injectable()
export class UpstreamWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly workerId: string;
  private readonly log = new Logger('upstream-worker');
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;
  private lifecycle: WorkerLifecycle<UpstreamModelDescriptor, QueueHost<UpstreamModelDescriptor, UpstreamJobData>> | undefined;

  constructor(@Inject(WORKER_ENV) private readonly env: UpstreamWorkerEnv) {
    this.workerId = workerIdFrom(env, 'upstream');
  }

  async onApplicationBootstrap(): Promise<void> {
    const models = workerModels(this.env, 'upstream');
    if (models.length === 0) this.log.warn('the models file has no upstream models; this worker serves nothing');
    for (const m of models) {
      for (const d of m.deployments) {
        // Only the variable's name is logged, never its value.
        if (d.apiKeyEnv !== undefined && !process.env[d.apiKeyEnv]) {
          this.log.warn('API key variable is not set; requests to this deployment will fail', { model: m.name, deployment: d.baseUrl, variable: d.apiKeyEnv });
        }
      }
    }
    this.publisher = createRedis(this.env.REDIS_URL, `switchyard-upstream-pub-${this.workerId}`);
    this.subscriber = createRedis(this.env.REDIS_URL, `switchyard-upstream-sub-${this.workerId}`);
    const cancels = new CancelListener(this.subscriber);
    await cancels.start();
    const deps: QueueHostDeps = { redisUrl: this.env.REDIS_URL, publisher: this.publisher, cancels, workerId: this.workerId, logger: this.log };
    this.lifecycle = new WorkerLifecycle({
      workerId: this.workerId,
      backend: 'upstream',
      publisher: this.publisher,
      subscriber: this.subscriber,
      models,
      log: this.log,
      shutdownDrainMs: this.env.SHUTDOWN_DRAIN_MS,
      fixedModels: (model) => `'${model}' is served by an upstream server: it is not loaded or unloaded (remove it from the models file, or stop the upstream worker).`,
      // Never idle-unloaded: nothing is held.
      prepare: (m) => new QueueHost({ ...m, keepAliveMs: -1 }, new UpstreamJobEngine(m, this.log), { backend: 'upstream', concurrency: m.concurrency, threads: 0, stoppedEvent: stopping }, deps),
    });
    await this.lifecycle.start();
    this.log.info('upstream worker ready', { workerId: this.workerId, models: models.map((m) => m.name) });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.lifecycle?.stop();
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
  }
}
