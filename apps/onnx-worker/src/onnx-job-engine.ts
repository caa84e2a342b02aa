/**
 * One ONNX model as its QueueHost runs it: loaded through its model type, and one handler for every
 * task kind the backend table gives onnx. Many jobs are held at once and their inputs batched into
 * shared runs; each job answers with one `result` event. A run cannot be interrupted, so an unload
 * past its drain frees the model under the jobs left, and they report it.
 */
import type { ImageProgress, OnnxModelDescriptor, TaskJobData } from '@switchyard/contracts';
import { kindList, type JobContext, type JobOutcome, type KindHandlers, type LoadReporter, type ModelEngine } from '@switchyard/runtime';
import { MODEL_TYPES } from './model-types';
import type { ServedModel } from './model-types/model-type';
import type { TransformersModule } from './transformers';

/**
 * A job still running after this long announces its worker (a `start` event), so the gateway can
 * tell a dead worker from a slow job. Most jobs answer sooner and skip that event: one Redis
 * round of PUBLISH+XADD less per request. A worker that dies sooner is handled by the stall check
 * (the job runs again elsewhere).
 */
const START_EVENT_AFTER_MS = 250;

export class OnnxJobEngine implements ModelEngine<TaskJobData> {
  /** The kinds it has handlers for (the worker checks them against the backend table at boot). */
  static readonly kinds = kindList<TaskJobData>({ embeddings: true, classify: true, rerank: true, transcribe: true, speech: true, image: true });
  readonly abortable = false;
  readonly failure: { code: string; message: string };
  readonly handlers: KindHandlers<TaskJobData>;
  private served: ServedModel | undefined;
  /** Jobs taken whose inputs are not yet queued for a model run (they may join the next batch). */
  private preparing = 0;
  /** Image jobs' denoising progress by job id, for the heartbeat's stats (the admin's worker list). */
  private readonly steps = new Map<string, ImageProgress>();

  constructor(
    private readonly descriptor: OnnxModelDescriptor,
    private readonly lib: TransformersModule,
    private readonly device: 'cpu' | 'cuda',
  ) {
    this.failure = { code: 'inference_failed', message: `The model '${descriptor.name}' failed while processing this request.` };
    // Every kind runs the same way; the model type rejects a kind that is not its task's.
    this.handlers = {
      embeddings: { run: (job, ctx) => this.run(job, ctx) },
      classify: { run: (job, ctx) => this.run(job, ctx) },
      rerank: { run: (job, ctx) => this.run(job, ctx) },
      // A transcription runs for seconds: a client that leaves stops it between windows.
      transcribe: { cancellable: true, run: (job, ctx) => this.run(job, ctx) },
      // So does speech: a client that leaves stops it between sentences.
      speech: { cancellable: true, run: (job, ctx) => this.run(job, ctx) },
      // And images: a client that leaves stops the denoising loop within one step.
      image: { cancellable: true, run: (job, ctx) => this.run(job, ctx) },
    };
  }

  async load(report?: LoadReporter): Promise<void> {
    report?.({ progress: 0, stage: 'files' });
    this.served = await MODEL_TYPES[this.descriptor.task].load(this.descriptor, {
      lib: this.lib,
      device: this.device,
      othersComing: () => this.preparing > 0,
      report,
    });
  }

  contextSize(): number | undefined {
    return this.served?.contextSize;
  }

  describe(): Record<string, unknown> {
    const d = this.descriptor;
    return { task: d.task, path: d.path, maxBatch: d.maxBatch, threads: d.threads };
  }

  stats(): Record<string, unknown> {
    const s = this.served?.stats();
    return { runs: s?.runs, inputs: s?.items, largestBatch: s?.largest };
  }

  progress(): Record<string, ImageProgress> | undefined {
    return this.steps.size > 0 ? Object.fromEntries(this.steps) : undefined;
  }

  async dispose(): Promise<void> {
    // Disposing fails whatever is still queued for a run; their jobs report the error.
    await this.served?.dispose();
    this.served = undefined;
  }

  private async run(job: TaskJobData, ctx: JobContext): Promise<JobOutcome<TaskJobData['kind']>> {
    const served = this.served;
    if (!served) throw new Error('the model is not loaded');
    this.preparing++;
    let joined = false;
    const join = (): void => {
      if (!joined) {
        joined = true;
        this.preparing--;
      }
    };
    const announce = setTimeout(() => ctx.emit({ type: 'start', workerId: ctx.workerId, promptTokens: 0 }), START_EVENT_AFTER_MS);
    try {
      const data = await served.run(job, {
        joined: join,
        signal: ctx.signal,
        delta: (text) => ctx.emit({ type: 'delta', text }),
        audio: (bytes) => ctx.emit({ type: 'delta', text: '', audio: bytes.toString('base64') }),
        image: (image) => ctx.emit({ type: 'delta', text: '', image }),
        progress: (progress) => {
          this.steps.set(ctx.jobId, progress);
          ctx.emit({ type: 'delta', text: '', progress });
        },
      });
      return { type: 'result', workerId: ctx.workerId, data };
    } finally {
      clearTimeout(announce);
      this.steps.delete(ctx.jobId);
      if (!joined) {
        join();
        served.poke();
      }
    }
  }
}
