/**
 * The llm worker's lifecycle: loads the models it serves, announces itself with heartbeats, and on
 * shutdown stops taking jobs, finishes running ones and frees every native resource.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TTL_SECONDS,
  WORKERS_SET_KEY,
  workerHeartbeatKey,
  type WorkerHeartbeat,
} from '@switchyard/contracts';
import { createRedis, loadModelsFile, Logger, splitList } from '@switchyard/runtime';
import { CancelListener } from './cancel-listener';
import { ModelHost } from './model-host';
import { importNodeLlamaCpp, type Llama } from './node-llama-cpp';
import { LLM_WORKER_ENV, type LlmWorkerEnv } from './worker-config';

@Injectable()
export class LlmWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly workerId: string;
  private readonly log = new Logger('llm-worker');
  private readonly hosts: ModelHost[] = [];
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;
  private llama: Llama | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  constructor(@Inject(LLM_WORKER_ENV) private readonly env: LlmWorkerEnv) {
    this.workerId = env.WORKER_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const wanted = new Set(splitList(this.env.WORKER_MODELS));
    const models = loadModelsFile(this.env.MODELS_FILE).filter(
      (m) => m.backend === 'llama.cpp' && (wanted.size === 0 || wanted.has(m.name)),
    );
    for (const name of wanted) {
      if (!models.some((m) => m.name === name)) throw new Error(`WORKER_MODELS names '${name}', which the models file lacks`);
    }
    this.publisher = createRedis(this.env.REDIS_URL, `switchyard-llm-pub-${this.workerId}`);
    this.subscriber = createRedis(this.env.REDIS_URL, `switchyard-llm-sub-${this.workerId}`);
    const lib = await importNodeLlamaCpp();
    const gpu = this.env.LLAMA_GPU === 'false' ? false : this.env.LLAMA_GPU;
    // Never compile llama.cpp at run time: prebuilt binaries only.
    this.llama = await lib.getLlama({ build: 'never', gpu: gpu as 'auto', logLevel: lib.LlamaLogLevel.error });
    this.log.info('llama.cpp ready', { workerId: this.workerId, gpu: this.llama.gpu, models: models.map((m) => m.name) });
    const cancels = new CancelListener(this.subscriber);
    await cancels.start();
    for (const descriptor of models) {
      const host = new ModelHost(descriptor, {
        lib,
        llama: this.llama,
        redisUrl: this.env.REDIS_URL,
        publisher: this.publisher,
        cancels,
        workerId: this.workerId,
        logger: this.log,
      });
      this.hosts.push(host);
    }
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS);
    for (const host of this.hosts) {
      if (!existsSync(host.descriptor.path)) {
        this.log.warn('model file missing; not serving it', { model: host.descriptor.name, path: host.descriptor.path });
      }
      await host.load();
      await this.beat();
    }
  }

  private async beat(): Promise<void> {
    if (!this.publisher) return;
    const hb: WorkerHeartbeat = {
      id: this.workerId,
      host: hostname(),
      pid: process.pid,
      backend: 'llama.cpp',
      startedAt: this.startedAt,
      models: this.hosts.map((h) => h.status()),
    };
    try {
      await this.publisher
        .multi()
        .set(workerHeartbeatKey(this.workerId), JSON.stringify(hb), 'EX', HEARTBEAT_TTL_SECONDS)
        .sadd(WORKERS_SET_KEY, this.workerId)
        .exec();
    } catch (err) {
      this.log.warn('heartbeat failed', { error: (err as Error).message });
    }
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    this.log.debug('closing models', { signal });
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.all(this.hosts.map((h) => h.close()));
    try {
      await this.publisher?.multi().del(workerHeartbeatKey(this.workerId)).srem(WORKERS_SET_KEY, this.workerId).exec();
    } catch {
      // Redis gone: the heartbeat key expires on its own.
    }
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
    await this.llama?.dispose();
  }
}
