/**
 * The llm worker: node-llama-cpp with prebuilt binaries, and one QueueHost running the llama.cpp
 * engine (libs/llama) per loaded GGUF model. The shared QueueWorker takes load and unload commands,
 * loads the `preload` models, unloads idle ones, sends heartbeats and drains on shutdown; this
 * service says how to serve a load (file present, enough memory, load args) and frees llama.cpp at
 * the end.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { existsSync, statSync } from 'node:fs';
import { freemem } from 'node:os';
import type { LlamaCppModelDescriptor, LoadArgs } from '@switchyard/contracts';
import { CommandError, loadArg, Logger, QueueWorker, WORKER_ENV, workerIdFrom, workerModels } from '@switchyard/runtime';
import { importNodeLlamaCpp, LlamaJobEngine, type Llama, type LlamaJob } from '@switchyard/llama';
import type { LlmWorkerEnv } from './worker-config';

/** Rough KV-cache and compute-buffer overhead on top of the weights, for the memory check. */
const LOAD_OVERHEAD = 1.2;

@Injectable()
export class LlmWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly workerId: string;
  private readonly log = new Logger('llm-worker');
  private llama: Llama | undefined;
  private worker: QueueWorker<LlamaCppModelDescriptor, LlamaJob> | undefined;

  constructor(@Inject(WORKER_ENV) private readonly env: LlmWorkerEnv) {
    this.workerId = workerIdFrom(env, 'llm');
  }

  async onApplicationBootstrap(): Promise<void> {
    const models = workerModels(this.env, 'llama.cpp');
    const lib = await importNodeLlamaCpp();
    const gpu = this.env.LLAMA_GPU === 'false' ? false : this.env.LLAMA_GPU;
    // Never compile llama.cpp at run time: prebuilt binaries only.
    const llama = await lib.getLlama({ build: 'never', gpu: gpu as 'auto', logLevel: lib.LlamaLogLevel.error });
    this.llama = llama;
    this.log.info('llama.cpp ready', { workerId: this.workerId, gpu: llama.gpu, models: models.map((m) => m.name) });
    this.worker = await QueueWorker.start<LlamaCppModelDescriptor, LlamaJob>({
      env: this.env,
      workerId: this.workerId,
      backend: 'llama.cpp',
      kind: 'llm',
      models,
      log: this.log,
      prepare: (base, args) => {
        const d = checkLoad(base, args);
        return { descriptor: d, engine: new LlamaJobEngine(d, lib, llama), options: { concurrency: d.parallel, threads: d.threads } };
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.stop();
    await this.llama?.dispose();
  }
}

/** The descriptor with the load's args applied, once the file exists and memory looks sufficient. */
function checkLoad(base: LlamaCppModelDescriptor, args: LoadArgs): LlamaCppModelDescriptor {
  const gpu = args.gpu_layers;
  if (gpu !== undefined && gpu !== 'auto' && gpu !== 'max') loadArg('gpu_layers', gpu, 0, 100_000);
  const descriptor: LlamaCppModelDescriptor = {
    ...base,
    contextSize: loadArg('ctx_size', args.ctx_size, 16, 1 << 20) ?? base.contextSize,
    parallel: loadArg('parallel', args.parallel, 1, 256) ?? base.parallel,
    threads: loadArg('threads', args.threads, 1, 1024) ?? base.threads,
    gpuLayers: gpu ?? base.gpuLayers,
  };
  if (!existsSync(descriptor.path)) {
    throw new CommandError(400, 'model_file_missing', `The model file for '${base.name}' does not exist: ${descriptor.path}`);
  }
  const need = statSync(descriptor.path).size * LOAD_OVERHEAD;
  if (need > freemem()) {
    throw new CommandError(507, 'insufficient_memory', `Not enough memory to load '${base.name}': needs about ${mib(need)} MiB, ${mib(freemem())} MiB free.`);
  }
  return descriptor;
}

function mib(bytes: number): number {
  return Math.round(bytes / 1048576);
}
