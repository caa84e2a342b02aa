/**
 * The upstream worker: serves every upstream model of the models file (or WORKER_MODELS), each a
 * QueueHost running the upstream engine (libs/upstream). The shared QueueWorker sends the
 * heartbeats gateways route by, answers admin commands (an upstream model is always served: a load
 * is done at once, an unload refused) and drains on shutdown.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { UpstreamJobData, UpstreamModelDescriptor } from '@switchyard/contracts';
import { Logger, QueueWorker, serverErrorEvent, WORKER_ENV, workerIdFrom, workerModels } from '@switchyard/runtime';
import { UpstreamJobEngine } from '@switchyard/upstream';
import type { UpstreamWorkerEnv } from './upstream-worker-config';

const stopping = (): ReturnType<typeof serverErrorEvent> => serverErrorEvent(503, 'worker_stopping', 'The worker serving this request is shutting down. Retry the request.');

@Injectable()
export class UpstreamWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly workerId: string;
  private readonly log = new Logger('upstream-worker');
  private worker: QueueWorker<UpstreamModelDescriptor, UpstreamJobData> | undefined;

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
    this.worker = await QueueWorker.start<UpstreamModelDescriptor, UpstreamJobData>({
      env: this.env,
      workerId: this.workerId,
      backend: 'upstream',
      kind: 'upstream',
      models,
      log: this.log,
      fixedModels: (model) => `'${model}' is served by an upstream server: it is not loaded or unloaded (remove it from the models file, or stop the upstream worker).`,
      // Never idle-unloaded: nothing is held.
      prepare: (m) => ({ descriptor: { ...m, keepAliveMs: -1 }, engine: new UpstreamJobEngine(m, this.log), options: { concurrency: m.concurrency, threads: 0, stoppedEvent: stopping } }),
    });
    this.log.info('upstream worker ready', { workerId: this.workerId, models: models.map((m) => m.name) });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.stop();
  }
}
