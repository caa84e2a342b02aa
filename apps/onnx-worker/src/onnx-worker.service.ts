/**
 * The onnx worker: transformers.js on onnxruntime-node, and one QueueHost running an OnnxJobEngine
 * per loaded model.
 * The shared WorkerLifecycle takes load and unload commands, loads the `preload` models, unloads
 * idle ones, sends heartbeats (backend 'onnx', so /v1/models lists what it holds) and drains on
 * shutdown; this service says how to make a host (file present, load args).
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import type { LoadArgs, OnnxModelDescriptor, TaskJobData } from '@switchyard/contracts';
import { CommandError, createRedis, loadArg, Logger, QueueHost, WORKER_ENV, WorkerLifecycle, workerIdFrom, workerModels, type QueueHostDeps } from '@switchyard/runtime';
import { OnnxJobEngine } from './onnx-job-engine';
import { importTransformers } from './transformers';
import type { OnnxWorkerEnv } from './worker-config';

@Injectable()
export class OnnxWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly workerId: string;
  private readonly log = new Logger('onnx-worker');
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;
  private lifecycle: WorkerLifecycle<OnnxModelDescriptor, QueueHost<OnnxModelDescriptor, TaskJobData>> | undefined;

  constructor(@Inject(WORKER_ENV) private readonly env: OnnxWorkerEnv) {
    this.workerId = workerIdFrom(env, 'onnx');
  }

  async onApplicationBootstrap(): Promise<void> {
    const models = workerModels(this.env, 'onnx');
    this.publisher = createRedis(this.env.REDIS_URL, `switchyard-onnx-pub-${this.workerId}`);
    this.subscriber = createRedis(this.env.REDIS_URL, `switchyard-onnx-sub-${this.workerId}`);
    const lib = await importTransformers();
    const device = this.env.ONNX_DEVICE === 'cuda' ? 'cuda' : 'cpu';
    const deps: QueueHostDeps = { redisUrl: this.env.REDIS_URL, publisher: this.publisher, workerId: this.workerId, logger: this.log };
    this.log.info('onnx runtime ready', { workerId: this.workerId, device, models: models.map((m) => m.name) });
    this.lifecycle = new WorkerLifecycle({
      workerId: this.workerId,
      backend: 'onnx',
      publisher: this.publisher,
      subscriber: this.subscriber,
      models,
      log: this.log,
      shutdownDrainMs: this.env.SHUTDOWN_DRAIN_MS,
      prepare: (base, args) => {
        const descriptor = applyArgs(base, args);
        const file = join(descriptor.path, descriptor.file);
        if (!existsSync(file)) throw new CommandError(400, 'model_file_missing', `The model file for '${base.name}' does not exist: ${file}`);
        return new QueueHost(descriptor, new OnnxJobEngine(descriptor, lib, device), { backend: 'onnx', concurrency: descriptor.parallel, threads: descriptor.threads }, deps);
      },
    });
    await this.lifecycle.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.lifecycle?.stop();
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
  }
}

/** Load-time overrides from the admin API (text-generation-webui's `args` names). */
function applyArgs(base: OnnxModelDescriptor, args: LoadArgs): OnnxModelDescriptor {
  if (args.gpu_layers !== undefined) throw new CommandError(400, 'invalid_load_args', "'args.gpu_layers' does not apply to onnx models.");
  return {
    ...base,
    contextSize: loadArg('ctx_size', args.ctx_size, 2, 1 << 20) ?? base.contextSize,
    parallel: loadArg('parallel', args.parallel, 1, 1024) ?? base.parallel,
    threads: loadArg('threads', args.threads, 1, 1024) ?? base.threads,
  };
}
