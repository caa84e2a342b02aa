/**
 * Runs a DiffusionPipeline on a thread of its own (pipeline-thread.ts) and gives the caller a
 * promise per request, with step, preview and cancel hooks. Where the compiled thread file is not
 * there (jest runs the TypeScript sources) it runs the pipeline in process instead: same results,
 * but the caller's event loop waits on each graph.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AbortedError, DiffusionPipeline, type GenerateOutput, type GenerateRequest, type PipelineOptions } from './pipeline';
import type { RgbImage } from './pixels';
import type { SchedulerName } from './schedulers';
import type { FromThread, ToThread } from './thread-messages';

export interface RunHooks {
  step?(step: number, steps: number): void;
  preview?(image: RgbImage, partial: number): void;
  signal?: AbortSignal;
}

export interface DiffusionRunner {
  readonly canEdit: boolean;
  readonly scheduler: SchedulerName;
  /** Whether requests run off the caller's thread. */
  readonly threaded: boolean;
  generate(request: GenerateRequest, hooks?: RunHooks): Promise<GenerateOutput>;
  dispose(): Promise<void>;
}

interface Pending {
  hooks: RunHooks;
  resolve(output: GenerateOutput): void;
  reject(err: Error): void;
  cancel: Int32Array;
  onAbort: () => void;
}

const THREAD_FILE = join(__dirname, 'pipeline-thread.js');

export async function startDiffusionRunner(dir: string, options: PipelineOptions, mode: 'auto' | 'in-process' = 'auto'): Promise<DiffusionRunner> {
  if (mode === 'in-process' || !existsSync(THREAD_FILE)) return inProcess(await DiffusionPipeline.load(dir, options));
  return ThreadRunner.start(dir, options);
}

function inProcess(pipeline: DiffusionPipeline): DiffusionRunner {
  return {
    canEdit: pipeline.canEdit,
    scheduler: pipeline.layout.schedulerName,
    threaded: false,
    generate: (request, hooks = {}) =>
      pipeline.generate(request, {
        ...(hooks.step ? { step: hooks.step } : {}),
        ...(hooks.preview ? { preview: hooks.preview } : {}),
        aborted: () => hooks.signal?.aborted === true,
      }),
    dispose: () => pipeline.dispose(),
  };
}

class ThreadRunner implements DiffusionRunner {
  readonly threaded = true;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;
  private disposed: (() => void) | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly canEdit: boolean,
    readonly scheduler: SchedulerName,
  ) {
    worker.on('message', (m: FromThread) => this.onMessage(m));
    // A thread that dies (out of memory in a graph, a native crash it survived) fails what it held;
    // later requests fail at once with the same reason.
    const fail = (err: Error): void => {
      this.failure ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      fail(new Error(`the diffusion thread exited (code ${code})`));
      this.disposed?.();
    });
  }

  static async start(dir: string, options: PipelineOptions): Promise<ThreadRunner> {
    const worker = new Worker(THREAD_FILE);
    // Only this function's own listeners come off afterwards: removeAllListeners would also take
    // the Worker's internal ones, and its messages would stop arriving.
    let onMessage: (m: FromThread) => void = () => undefined;
    let onError: (err: Error) => void = () => undefined;
    let onExit: (code: number) => void = () => undefined;
    try {
      const loaded = await new Promise<Extract<FromThread, { type: 'loaded' }>>((resolve, reject) => {
        onMessage = (m) => {
          if (m.type === 'loaded') resolve(m);
          else if (m.type === 'load-error') reject(new Error(m.message));
        };
        onError = reject;
        onExit = (code) => reject(new Error(`the diffusion thread exited while loading (code ${code})`));
        worker.on('message', onMessage).on('error', onError).on('exit', onExit);
        worker.postMessage({ type: 'load', dir, options } satisfies ToThread);
      });
      return new ThreadRunner(worker, loaded.canEdit, loaded.scheduler);
    } catch (err) {
      await worker.terminate();
      throw err;
    } finally {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    }
  }

  generate(request: GenerateRequest, hooks: RunHooks = {}): Promise<GenerateOutput> {
    if (this.failure) return Promise.reject(this.failure);
    if (hooks.signal?.aborted) return Promise.reject(new AbortedError());
    const id = this.nextId++;
    const buffer = new SharedArrayBuffer(4);
    const cancel = new Int32Array(buffer);
    return new Promise<GenerateOutput>((resolve, reject) => {
      const onAbort = (): void => void Atomics.store(cancel, 0, 1);
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => {
        hooks.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      this.pending.set(id, {
        hooks,
        cancel,
        onAbort,
        resolve: (output) => {
          settle();
          resolve(output);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      });
      this.worker.postMessage({ type: 'generate', id, request, cancel: buffer } satisfies ToThread);
    });
  }

  async dispose(): Promise<void> {
    // Requests still queued in the thread stop at their first step check.
    for (const p of this.pending.values()) p.onAbort();
    await new Promise<void>((resolve) => {
      this.disposed = resolve;
      const timer = setTimeout(() => void this.worker.terminate(), 10_000);
      timer.unref();
      this.worker.on('message', (m: FromThread) => {
        if (m.type === 'disposed') void this.worker.terminate();
      });
      this.worker.postMessage({ type: 'dispose' } satisfies ToThread);
    });
  }

  private onMessage(m: FromThread): void {
    if (m.type === 'loaded' || m.type === 'load-error' || m.type === 'disposed') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    switch (m.type) {
      case 'step':
        p.hooks.step?.(m.step, m.steps);
        return;
      case 'preview':
        p.hooks.preview?.(m.image, m.partial);
        return;
      case 'done':
        p.resolve(m.output);
        return;
      case 'error':
        p.reject(m.aborted ? new AbortedError() : new Error(m.message));
        return;
    }
  }
}
