/**
 * Serves one GGUF model: loads it, keeps one llama.cpp context with `parallel` sequences, and consumes
 * the model's BullMQ queue with concurrency = parallel so node-llama-cpp batches concurrent requests.
 * Unloading drains running jobs for a bounded time, then aborts what is left.
 */
import type { Job, Worker } from 'bullmq';
import type Redis from 'ioredis';
import {
  BACKENDS,
  REDIS_PREFIX,
  jobCancelKey,
  llmQueueName,
  type BackendJobKind,
  type LlamaCppModelDescriptor,
  type LlmJobData,
  type EmbeddingsJobData,
  type LlmQueueJob,
  type TokenJobData,
  type WorkerModelState,
} from '@switchyard/contracts';
import { CancelListener, closeQueueWorker, consumeQueue, JobEventsPublisher, Logger, modelUnloadedEvent, Rejection, rejectionEvent, rejectUnknownKind, requestHoldMs, serverErrorEvent, workerLostEvent, type UnsequencedError } from '@switchyard/runtime';
import { LlamaEngine, type Llama, type NodeLlamaCppModule } from '@switchyard/llama';

/** Jobs on an llm queue: generations and token tools, and embeddings for GGUF embedding models. */
type HostJobData = LlmQueueJob | EmbeddingsJobData;

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
  /** One handler per kind the backend table gives llama.cpp (the worker checks them at boot). */
  private static readonly HANDLERS: { [K in BackendJobKind<'llama.cpp'>]: (host: ModelHost, job: Job<Extract<HostJobData, { kind: K }>>) => Promise<void> } = {
    chat: (host, job) => host.processGeneration(job),
    completion: (host, job) => host.processGeneration(job),
    tokens: (host, job) => host.processAnswer(job),
    embeddings: (host, job) => host.processAnswer(job),
  };
  static readonly handledKinds = Object.keys(ModelHost.HANDLERS);

  private readonly engine: LlamaEngine;
  private worker: Worker<HostJobData> | undefined;
  private queueConnection: Redis | undefined;
  private state: WorkerModelState['state'] = 'loading';
  private error: string | undefined;
  private readonly running = new Map<string, AbortController>();
  private readonly stopped = new Map<string, StopReason>();
  private lastUsed = Date.now();
  /**
   * Epoch ms until which requests' own `keep_alive` holds the model (Infinity: for good); each
   * request's hold is bounded by the models file (see requestHoldMs), so it only ever lengthens.
   */
  private heldUntil = 0;
  private readonly log: Logger;

  constructor(
    readonly descriptor: LlamaCppModelDescriptor,
    private readonly deps: ModelHostDeps,
  ) {
    this.log = deps.logger.child(descriptor.name);
    this.engine = new LlamaEngine(descriptor, deps.lib, deps.llama);
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
      keepAliveMs: this.descriptor.keepAliveMs,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** True when idle for longer than its keep-alive (never for -1) and past every request's own hold. */
  idleExpired(now = Date.now()): boolean {
    const keepAlive = this.descriptor.keepAliveMs;
    return this.state === 'ready' && this.running.size === 0 && keepAlive >= 0 && now - this.lastUsed >= keepAlive && now >= this.heldUntil;
  }

  /** Loads the model and starts consuming its queue; throws (after cleaning up) when it cannot. */
  async load(): Promise<void> {
    const d = this.descriptor;
    const started = Date.now();
    try {
      await this.engine.load();
    } catch (err) {
      this.state = 'failed';
      this.error = (err as Error).message;
      this.log.error('model failed to load', { path: d.path, error: this.error });
      throw err;
    }
    // A job whose worker died goes back to the queue once; see `processGeneration` for what a retry does.
    const consumer = consumeQueue<HostJobData>(llmQueueName(d.name), (job) => this.process(job), {
      redisUrl: this.deps.redisUrl,
      connectionName: `switchyard-llm-${this.deps.workerId}`,
      prefix: REDIS_PREFIX,
      concurrency: d.parallel,
      lockDuration: BACKENDS['llama.cpp'].lockDurationMs,
      stalledInterval: BACKENDS['llama.cpp'].stalledIntervalMs,
      log: this.log,
    });
    this.worker = consumer.worker;
    this.queueConnection = consumer.connection;
    this.state = 'ready';
    this.lastUsed = Date.now();
    this.log.info('model ready', {
      path: d.path,
      ms: Date.now() - started,
      contextSize: d.contextSize,
      parallel: d.parallel,
      threads: d.threads,
      ...this.engine.describe(),
    });
  }

  private async process(job: Job<HostJobData>): Promise<void> {
    const handle = ModelHost.HANDLERS[job.data.kind] as ((host: ModelHost, job: Job<HostJobData>) => Promise<void>) | undefined;
    // A kind from a newer gateway: answer it rather than leave its client waiting.
    if (!handle) return rejectUnknownKind(this.deps.publisher, job, this.name);
    return handle(this, job);
  }

  /** Jobs answered with one result event: token tools and embeddings. */
  private async processAnswer(job: Job<TokenJobData | EmbeddingsJobData>): Promise<void> {
    const jobId = job.id!;
    this.running.set(jobId, new AbortController());
    let events: JobEventsPublisher | undefined;
    try {
      events = await JobEventsPublisher.forJob(this.deps.publisher, jobId, job.attemptsStarted > 1);
      if (job.data.kind === 'embeddings') void events.emit({ type: 'start', workerId: this.deps.workerId, promptTokens: 0 });
      const data = job.data.kind === 'embeddings' ? await this.engine.embed(job.data) : await this.engine.answerTokens(job.data.request);
      await events.emit({ type: 'result', workerId: this.deps.workerId, data });
    } catch (err) {
      await events?.emit(failure(err, this.log, jobId)).catch(() => undefined);
    } finally {
      this.running.delete(jobId);
      this.lastUsed = Date.now();
    }
  }

  private async processGeneration(job: Job<LlmJobData>): Promise<void> {
    const jobId = job.id!;
    const abort = new AbortController();
    this.running.set(jobId, abort);
    this.deps.cancels.register(jobId, abort);
    let events: JobEventsPublisher | undefined;
    try {
      // The flag covers a cancel published before this worker took the job; its round trip
      // overlaps with building the prompt.
      const flagged = this.deps.publisher.exists(jobCancelKey(jobId));
      events = await JobEventsPublisher.forJob(this.deps.publisher, jobId, job.attemptsStarted > 1);
      if (events.alreadyStreamed) {
        // A worker died after streaming part of this answer; replaying it would repeat text.
        await events.emit(workerLostEvent());
        return;
      }
      const publisher = events;
      const result = await this.engine.generate(
        job.data,
        abort.signal,
        {
          start: (info) => void publisher.emit({ type: 'start', workerId: this.deps.workerId, ...info }),
          delta: (delta) => void publisher.emit({ type: 'delta', ...delta }),
        },
        async () => {
          if ((await flagged) === 1) abort.abort();
        },
      );
      if (result.aborted) {
        if (this.stopped.get(jobId) === 'unloaded') await events.emit(modelUnloadedEvent(this.name));
        return;
      }
      await events.emit({ type: 'done', finishReason: result.finishReason, usage: result.usage });
    } catch (err) {
      await events?.emit(failure(err, this.log, jobId)).catch(() => undefined);
    } finally {
      this.running.delete(jobId);
      this.stopped.delete(jobId);
      this.deps.cancels.unregister(jobId);
      this.lastUsed = Date.now();
      this.hold(job.data.keepAliveMs);
    }
  }

  /** Extends the model's hold for a request that set `keep_alive`, within the models file's bounds. */
  private hold(requestedMs: number | undefined): void {
    if (requestedMs === undefined) return;
    const ms = requestHoldMs(this.descriptor, requestedMs);
    this.heldUntil = Math.max(this.heldUntil, ms < 0 ? Infinity : this.lastUsed + ms);
  }

  /**
   * Stops taking jobs (waiting ones stay queued for other workers), lets running ones finish for up
   * to `drainMs`, aborts the rest with a clear error, then frees the model.
   */
  async unload(drainMs: number): Promise<{ aborted: number }> {
    this.state = 'unloading';
    const closing = this.worker ? closeQueueWorker(this.worker, this.queueConnection) : Promise.resolve();
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
    await this.engine.dispose();
    this.log.info('model unloaded', { aborted });
    return { aborted };
  }
}

/** A rejected request is the client's 400; anything else is logged and reported as a 500. */
function failure(err: unknown, log: Logger, jobId: string): UnsequencedError {
  if (err instanceof Rejection) return rejectionEvent(err);
  log.error('job failed', { jobId, error: (err as Error).stack ?? String(err) });
  return serverErrorEvent(500, 'generation_failed', 'The model failed while answering this request.');
}
