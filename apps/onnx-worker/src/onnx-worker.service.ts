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
import type { LoadArgs, OnnxModelDescriptor, TaskJobData } from '@switchyard/contracts';
import { CommandError, loadArg, Logger, QueueWorker, WORKER_ENV, workerIdFrom, workerModels } from '@switchyard/runtime';
import { OnnxJobEngine } from './onnx-job-engine';
import { importTransformers } from './transformers';
import type { OnnxWorkerEnv } from './worker-config';

@Injectable()
export class OnnxWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly workerId: string;
  private readonly log = new Logger('onnx-worker');
  private worker: QueueWorker<OnnxModelDescriptor, TaskJobData> | undefined;

  constructor(@Inject(WORKER_ENV) private readonly env: OnnxWorkerEnv) {
    this.workerId = workerIdFrom(env, 'onnx');
  }

  async onApplicationBootstrap(): Promise<void> {
    const models = workerModels(this.env, 'onnx');
    const lib = await importTransformers();
    const device = this.env.ONNX_DEVICE === 'cuda' ? 'cuda' : 'cpu';
    this.log.info('onnx runtime ready', { workerId: this.workerId, device, models: models.map((m) => m.name) });
    this.worker = await QueueWorker.start<OnnxModelDescriptor, TaskJobData>({
      env: this.env,
      workerId: this.workerId,
      backend: 'onnx',
      kind: 'onnx',
      models,
      log: this.log,
      prepare: (base, args) => {
        const d = applyArgs(base, args);
        const file = join(d.path, d.file);
        if (!existsSync(file)) throw new CommandError(400, 'model_file_missing', `The model file for '${base.name}' does not exist: ${file}`);
        return { descriptor: d, engine: new OnnxJobEngine(d, lib, device), options: { concurrency: d.parallel, threads: d.threads } };
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.stop();
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
