/**
 * Serves one GGUF model: loads it, keeps one llama.cpp context with `parallel` sequences, and consumes
 * the model's BullMQ queue with concurrency = parallel so node-llama-cpp batches concurrent requests.
 * Unloading drains running jobs for a bounded time, then aborts what is left.
 */
import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import {
  LLM_LOCK_DURATION_MS,
  LLM_STALLED_INTERVAL_MS,
  REDIS_PREFIX,
  jobCancelKey,
  llmQueueName,
  type EmbeddingsJobData,
  type ErrorEvent,
  type LlamaCppModelDescriptor,
  type LlmJobData,
  type WorkerModelState,
} from '@switchyard/contracts';
import { createRedis, JobEventsPublisher, Logger } from '@switchyard/runtime';
import { CancelListener } from './cancel-listener';
import { runEmbeddings } from './embeddings';
import { GenerationRejected, PromptBuilder, cachedPrefix, runGeneration } from './generation';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaModel, NodeLlamaCppModule } from './node-llama-cpp';

/** Jobs on an llm queue: generations, and embeddings for GGUF embedding models. */
type HostJobData = LlmJobData | EmbeddingsJobData;

export interface ModelHostDeps {
  lib: NodeLlamaCppModule;
  llama: Llama;
  redisUrl: string;
  /** Shared connection for publishing events. */
  publisher: Redis;
  cancels: CancelListener;
  workerId: string;
  logger: Logger;
}

/** Why a running job was stopped from this side (not by its client). */
type StopReason = 'unloaded';

export class ModelHost {
  private model: LlamaModel | undefined;
  private context: LlamaContext | undefined;
  private embedder: LlamaEmbeddingContext | undefined;
  private prompts: PromptBuilder | undefined;
  private readonly free: LlamaContextSequence[] = [];
  private worker: Worker<HostJobData> | undefined;
  private queueConnection: Redis | undefined;
  private state: WorkerModelState['state'] = 'loading';
  private error: string | undefined;
  private readonly running = new Map<string, AbortController>();
  private readonly stopped = new Map<string, StopReason>();
  private lastUsed = Date.now();
  private keepAliveMs: number;
  private readonly log: Logger;

  constructor(
    readonly descriptor: LlamaCppModelDescriptor,
    private readonly deps: ModelHostDeps,
  ) {
    this.log = deps.logger.child(descriptor.name);
    this.keepAliveMs = descriptor.keepAliveMs;
  }

  get name(): string {
    return this.descriptor.name;
  }

  get busy(): number {
    return this.running.size;
  }

  get currentState(): WorkerModelState['state'] {
    return this.state;
  }

  status(): WorkerModelState {
    return {
      name: this.descriptor.name,
      state: this.state,
      slots: this.descriptor.parallel,
      busy: this.running.size,
      contextSize: this.descriptor.contextSize,
      threads: this.descriptor.threads,
      lastUsed: this.lastUsed,
      keepAliveMs: this.keepAliveMs,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** True when idle for longer than its keep-alive (never for -1). */
  idleExpired(now = Date.now()): boolean {
    return this.state === 'ready' && this.running.size === 0 && this.keepAliveMs >= 0 && now - this.lastUsed >= this.keepAliveMs;
  }

  /** Loads the model and starts consuming its queue; throws (after cleaning up) when it cannot. */
  async load(): Promise<void> {
    const d = this.descriptor;
    const started = Date.now();
    try {
      this.model = await this.deps.llama.loadModel({ modelPath: d.path, gpuLayers: d.gpuLayers });
      if (d.embedding) {
        this.embedder = await this.model.createEmbeddingContext({ contextSize: d.contextSize, threads: d.threads });
      } else {
        this.context = await this.model.createContext({
          contextSize: d.contextSize,
          sequences: d.parallel,
          threads: d.threads,
          batchSize: Math.min(512, d.contextSize),
        });
        for (let i = 0; i < d.parallel; i++) this.free.push(this.context.getSequence());
      }
      this.prompts = new PromptBuilder(this.deps.lib, this.model);
    } catch (err) {
      this.state = 'failed';
      this.error = (err as Error).message;
      this.log.error('model failed to load', { path: d.path, error: this.error });
      await this.disposeModel();
      throw err;
    }
    this.queueConnection = createRedis(this.deps.redisUrl, `switchyard-llm-${this.deps.workerId}`);
    this.worker = new Worker<HostJobData>(llmQueueName(d.name), (job) => (job.data.kind === 'embeddings' ? this.embed(job as Job<EmbeddingsJobData>) : this.process(job as Job<LlmJobData>)), {
      connection: this.queueConnection,
      prefix: REDIS_PREFIX,
      concurrency: d.parallel,
      lockDuration: LLM_LOCK_DURATION_MS,
      stalledInterval: LLM_STALLED_INTERVAL_MS,
      // A job whose worker died goes back to the queue once; see `resume` for what happens then.
      maxStalledCount: 1,
    });
    this.worker.on('error', (err) => this.log.error('queue worker error', { error: err.message }));
    this.state = 'ready';
    this.lastUsed = Date.now();
    this.log.info('model ready', {
      path: d.path,
      ms: Date.now() - started,
      contextSize: d.contextSize,
      parallel: d.parallel,
      threads: d.threads,
      chatWrapper: this.prompts!.wrapperName,
    });
  }

  private async process(job: Job<LlmJobData>): Promise<void> {
    const jobId = job.id!;
    const abort = new AbortController();
    this.running.set(jobId, abort);
    this.deps.cancels.register(jobId, abort);
    if (job.data.keepAliveMs !== undefined) this.keepAliveMs = job.data.keepAliveMs;
    let events: JobEventsPublisher | undefined;
    let sequence: LlamaContextSequence | undefined;
    try {
      // The flag covers a cancel published before this worker took the job; its round trip
      // overlaps with building the prompt.
      const flagged = this.deps.publisher.exists(jobCancelKey(jobId));
      events = await JobEventsPublisher.forJob(this.deps.publisher, jobId, job.attemptsStarted > 1);
      if (events.alreadyStreamed) {
        // A worker died after streaming part of this answer; replaying it would repeat text.
        await events.emit(workerLost());
        return;
      }
      const { tokens, templateStops } = this.prompts!.build(job.data);
      if ((await flagged) === 1) abort.abort();
      if (abort.signal.aborted) return;
      sequence = this.takeSequence(tokens);
      const publisher = events;
      const result = await runGeneration({
        model: this.model!,
        sequence,
        contextSize: this.descriptor.contextSize,
        tokens,
        templateStops,
        promptParam: job.data.kind === 'chat' ? 'messages' : 'prompt',
        sampling: job.data.sampling,
        signal: abort.signal,
        sink: {
          start: (promptTokens) => void publisher.emit({ type: 'start', workerId: this.deps.workerId, promptTokens }),
          delta: (text) => void publisher.emit({ type: 'delta', text }),
        },
      });
      if (result.aborted) {
        if (this.stopped.get(jobId) === 'unloaded') await events.emit(modelUnloaded(this.name));
        return;
      }
      await events.emit({ type: 'done', finishReason: result.finishReason, usage: result.usage });
    } catch (err) {
      const event: Omit<ErrorEvent, 'seq'> =
        err instanceof GenerationRejected
          ? { type: 'error', status: 400, errorType: 'invalid_request_error', message: err.message, code: err.code, param: err.param }
          : {
              type: 'error',
              status: 500,
              errorType: 'server_error',
              message: 'The model failed while generating this response.',
              code: 'generation_failed',
              param: null,
            };
      if (!(err instanceof GenerationRejected)) this.log.error('generation failed', { jobId, error: (err as Error).stack ?? String(err) });
      await events?.emit(event).catch(() => undefined);
    } finally {
      if (sequence) this.free.push(sequence);
      this.running.delete(jobId);
      this.stopped.delete(jobId);
      this.deps.cancels.unregister(jobId);
      this.lastUsed = Date.now();
    }
  }

  /** An embeddings job: one result event (or an error), for models loaded with `embedding: true`. */
  private async embed(job: Job<EmbeddingsJobData>): Promise<void> {
    const jobId = job.id!;
    this.running.set(jobId, new AbortController());
    let events: JobEventsPublisher | undefined;
    try {
      events = await JobEventsPublisher.forJob(this.deps.publisher, jobId, job.attemptsStarted > 1);
      if (!this.embedder) {
        throw new GenerationRejected(`The model '${this.name}' is not an embedding model.`, 'model_not_supported', 'model');
      }
      void events.emit({ type: 'start', workerId: this.deps.workerId, promptTokens: 0 });
      const result = await runEmbeddings(this.embedder, this.model!, this.descriptor.contextSize, job.data);
      await events.emit({ type: 'result', workerId: this.deps.workerId, result });
    } catch (err) {
      const rejected = err instanceof GenerationRejected;
      if (!rejected) this.log.error('embedding failed', { jobId, error: (err as Error).stack ?? String(err) });
      await events
        ?.emit(
          rejected
            ? { type: 'error', status: 400, errorType: 'invalid_request_error', message: err.message, code: err.code, param: err.param }
            : { type: 'error', status: 500, errorType: 'server_error', message: 'The model failed while embedding this input.', code: 'embedding_failed', param: null },
        )
        .catch(() => undefined);
    } finally {
      this.running.delete(jobId);
      this.lastUsed = Date.now();
    }
  }

  /** The free sequence whose cache shares the longest prefix with the prompt. */
  private takeSequence(tokens: Parameters<typeof cachedPrefix>[1]): LlamaContextSequence {
    if (this.free.length === 0) throw new Error('no free sequence (concurrency exceeds parallel slots)');
    let best = 0;
    let bestLen = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = cachedPrefix(this.free[i], tokens);
      if (len > bestLen) {
        best = i;
        bestLen = len;
      }
    }
    return this.free.splice(best, 1)[0];
  }

  /**
   * Stops taking jobs (waiting ones stay queued for other workers), lets running ones finish for up
   * to `drainMs`, aborts the rest with a clear error, then frees the model.
   */
  async unload(drainMs: number): Promise<{ aborted: number }> {
    this.state = 'unloading';
    const closing = this.worker?.close() ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      closing.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), drainMs))),
    ]);
    clearTimeout(timer);
    let aborted = 0;
    if (!drained) {
      for (const [jobId, controller] of this.running) {
        this.stopped.set(jobId, 'unloaded');
        controller.abort();
        aborted++;
      }
      await closing;
    }
    await this.queueConnection?.quit().catch(() => undefined);
    await this.disposeModel();
    this.log.info('model unloaded', { aborted });
    return { aborted };
  }

  private async disposeModel(): Promise<void> {
    await this.context?.dispose();
    await this.embedder?.dispose();
    this.embedder = undefined;
    await this.model?.dispose();
    this.context = undefined;
    this.model = undefined;
    this.free.length = 0;
  }
}

function workerLost(): Omit<ErrorEvent, 'seq'> {
  return {
    type: 'error',
    status: 502,
    errorType: 'server_error',
    message: 'The worker serving this request stopped responding.',
    code: 'worker_lost',
    param: null,
  };
}

function modelUnloaded(model: string): Omit<ErrorEvent, 'seq'> {
  return {
    type: 'error',
    status: 503,
    errorType: 'server_error',
    message: `The model '${model}' was unloaded while this request was running. Retry the request.`,
    code: 'model_unloaded',
    param: null,
  };
}
