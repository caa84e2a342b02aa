/**
 * The upstream worker's lifecycle: serves every upstream model of the models file (or WORKER_MODELS),
 * announces them with heartbeats so gateways route to it, and on shutdown drains and says goodbye.
 * It loads nothing: an upstream model is ready as soon as its queue is consumed.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { freemem, hostname, totalmem } from 'node:os';
import type Redis from 'ioredis';
import {
  HEARTBEAT_INTERVAL_MS,
  controlReplyChannel,
  workerControlChannel,
  type UpstreamModelDescriptor,
  type WorkerHeartbeat,
} from '@switchyard/contracts';
import { CancelListener, createRedis, fixedModelsReply, loadModelsFile, Logger, removeHeartbeat, splitList, writeHeartbeat } from '@switchyard/runtime';
import { UpstreamModelHost } from './upstream-model-host';
import { UPSTREAM_WORKER_ENV, type UpstreamWorkerEnv } from './upstream-worker-config';

@Injectable()
export class UpstreamWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly workerId: string;
  private readonly log = new Logger('upstream-worker');
  private readonly hosts: UpstreamModelHost[] = [];
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  constructor(@Inject(UPSTREAM_WORKER_ENV) private readonly env: UpstreamWorkerEnv) {
    this.workerId = env.WORKER_ID ?? `upstream-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const wanted = new Set(splitList(this.env.WORKER_MODELS));
    const models = loadModelsFile(this.env.MODELS_FILE).filter(
      (m): m is UpstreamModelDescriptor => m.backend === 'upstream' && (wanted.size === 0 || wanted.has(m.name)),
    );
    for (const name of wanted) {
      if (!models.some((m) => m.name === name)) throw new Error(`WORKER_MODELS names '${name}', which is not an upstream model of the models file`);
    }
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
    const deps = { redisUrl: this.env.REDIS_URL, publisher: this.publisher, cancels, workerId: this.workerId, logger: this.log };
    for (const m of models) {
      const host = new UpstreamModelHost(m, deps);
      host.start();
      this.hosts.push(host);
    }
    // Admin load/unload: an upstream model is always served; unloading it is refused at once.
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== workerControlChannel(this.workerId)) return;
      const reply = fixedModelsReply(
        message,
        (model) => this.hosts.some((h) => h.descriptor.name === model),
        (model) => `'${model}' is served by an upstream server: it is not loaded or unloaded (remove it from the models file, or stop the upstream worker).`,
      );
      if (reply) void this.publisher?.publish(controlReplyChannel(reply.requestId), JSON.stringify(reply)).catch(() => undefined);
    });
    await this.subscriber.subscribe(workerControlChannel(this.workerId));
    await this.beat();
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS);
    this.log.info('upstream worker ready', { workerId: this.workerId, models: models.map((m) => m.name) });
  }

  private async beat(): Promise<void> {
    if (!this.publisher) return;
    const hb: WorkerHeartbeat = {
      id: this.workerId,
      host: hostname(),
      pid: process.pid,
      backend: 'upstream',
      startedAt: this.startedAt,
      freeMemory: freemem(),
      totalMemory: totalmem(),
      servable: this.hosts.map((h) => h.descriptor.name),
      models: this.hosts.map((h) => h.status()),
    };
    try {
      await writeHeartbeat(this.publisher, hb);
    } catch (err) {
      this.log.warn('heartbeat failed', { error: (err as Error).message });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    const stopping = Promise.all(this.hosts.map((h) => h.stop(this.env.SHUTDOWN_DRAIN_MS)));
    await this.beat();
    await stopping;
    if (this.publisher) await removeHeartbeat(this.publisher, this.workerId);
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
  }
}
