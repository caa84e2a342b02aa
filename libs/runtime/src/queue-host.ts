/**
 * One model served behind its BullMQ queue, the same for every backend: load the engine (or record
 * why it failed), consume the model's queue with its concurrency and the backend table's lock
 * times, start each job (cancel registration and flag, event numbering continued on a retry, no
 * replay of a job that had streamed), send its end, and on unload stop taking jobs, let running ones
 * finish for a bounded time, abort the rest with a retryable error and free the engine. The engine
 * supplies the model and one handler per job kind; the worker's lifecycle drives load and unload.
 */
import type { Job, Worker } from 'bullmq';
import type Redis from 'ioredis';
import { BACKENDS, REDIS_PREFIX, jobCancelKey, type Backend, type WorkerModelState } from '@switchyard/contracts';
import type { CancelListener } from './cancel-listener';
import { JobEventsPublisher } from './job-events.publisher';
import { modelUnloadedEvent, workerLostEvent, type UnsequencedError } from './job-errors';
import { withLogFields, type Logger } from './logger';
import { isCancellable, runKind, type JobContext, type JobEnd, type LoadReporter, type ModelEngine } from './model-engine';
import { requestHoldMs } from './models-file';
import { closeQueueWorker, consumeQueue } from './queue-consumer';
import type { HostedModel } from './worker-lifecycle';
import type { JobOutcomeLabel, WorkerMetrics } from './worker-metrics';

export interface QueueHostDeps {
  redisUrl: string;
  /** Shared connection for publishing events and reading cancel flags. */
  publisher: Redis;
  /** Client cancels, for the kinds whose handlers ask for them. */
  cancels?: CancelListener;
  workerId: string;
  logger: Logger;
  /** Observes jobs and loads for /metrics (absent with METRICS=off). */
  metrics?: WorkerMetrics;
}

/** The models-file fields every hosted model has. */
export interface HostedDescriptor {
  name: string;
  contextSize: number;
  keepAliveMs: number;
  maxKeepAliveMs?: number;
}

export interface QueueHostOptions {
  backend: Backend;
  /** Jobs run at once (the BullMQ concurrency), also the slots the heartbeat reports. */
  concurrency: number;
  /** CPU threads, as the heartbeat reports them (0: none of this machine's). */
  threads: number;
  /** The error a running job gets when an unload (or shutdown) cuts it; by default a retryable 503. */
  stoppedEvent?: (model: string) => UnsequencedError;
}

export class QueueHost<D extends HostedDescriptor, J extends { kind: string; keepAliveMs?: number }> implements HostedModel {
  private worker: Worker<J> | undefined;
  private queueConnection: Redis | undefined;
  private state: WorkerModelState['state'] = 'loading';
  private error: string | undefined;
  /** The engine's last reported load step, shown while loading. */
  private loadStep = { progress: 0, stage: 'starting' };
  private readonly running = new Map<string, AbortController>();
  /** Jobs aborted from this side (an unload past its drain), not by their clients. */
  private readonly stopped = new Set<string>();
  private lastUsed = Date.now();
  /**
   * Epoch ms until which requests' own `keep_alive` holds the model (Infinity: for good); each
   * request's hold is bounded by the models file (see requestHoldMs), so it only ever lengthens.
   */
  private heldUntil = 0;
  private readonly log: Logger;

  constructor(
    readonly descriptor: D,
    readonly engine: ModelEngine<J>,
    private readonly options: QueueHostOptions,
    private readonly deps: QueueHostDeps,
  ) {
    this.log = deps.logger.child(descriptor.name);
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
    const progress = this.engine.progress?.();
    return {
      name: this.descriptor.name,
      state: this.state,
      slots: this.options.concurrency,
      busy: this.running.size,
      contextSize: this.engine.contextSize?.() ?? this.descriptor.contextSize,
      threads: this.options.threads,
      lastUsed: this.lastUsed,
      keepAliveMs: this.descriptor.keepAliveMs,
      ...(this.error ? { error: this.error } : {}),
      ...(progress ? { progress } : {}),
      ...(this.state === 'loading' ? { loadProgress: this.loadStep.progress, loadStage: this.loadStep.stage } : {}),
    };
  }

  /** True when idle for longer than its keep-alive (never for -1) and past every request's own hold. */
  idleExpired(now = Date.now()): boolean {
    const keepAlive = this.descriptor.keepAliveMs;
    return this.state === 'ready' && this.running.size === 0 && keepAlive >= 0 && now - this.lastUsed >= keepAlive && now >= this.heldUntil;
  }

  /**
   * Loads the engine and starts consuming the model's queue; throws (after cleaning up) when it
   * cannot. `onStep` hears of each step the engine reports (already in `status()`).
   */
  async load(onStep?: () => void): Promise<void> {
    const started = Date.now();
    const report: LoadReporter = (step) => {
      // Engines may report often and out of order across stages: progress only moves forward.
      if (step.progress <= this.loadStep.progress && step.stage === this.loadStep.stage) return;
      this.loadStep = { progress: Math.round(Math.min(0.99, Math.max(this.loadStep.progress, step.progress)) * 1000) / 1000, stage: step.stage };
      onStep?.();
    };
    try {
      await this.engine.load(report);
    } catch (err) {
      this.state = 'failed';
      this.error = (err as Error).message;
      this.log.error('model failed to load', { error: this.error });
      this.deps.metrics?.modelLoaded(this.name, (Date.now() - started) / 1000, false);
      throw err;
    }
    const spec = BACKENDS[this.options.backend];
    const consumer = consumeQueue<J>(spec.queueName(this.name), (job) => this.process(job), {
      redisUrl: this.deps.redisUrl,
      connectionName: `switchyard-${this.options.backend.replace('.', '')}-${this.deps.workerId}`,
      prefix: REDIS_PREFIX,
      concurrency: this.options.concurrency,
      lockDuration: spec.lockDurationMs,
      stalledInterval: spec.stalledIntervalMs,
      log: this.log,
    });
    this.worker = consumer.worker;
    this.queueConnection = consumer.connection;
    this.state = 'ready';
    this.lastUsed = Date.now();
    this.deps.metrics?.modelLoaded(this.name, (Date.now() - started) / 1000, true);
    this.log.info('model ready', { ms: Date.now() - started, concurrency: this.options.concurrency, ...this.engine.describe() });
  }

  /** Every line logged while a job runs, here or deep in its engine, carries its jobId and requestId. */
  private process(job: Job<J>): Promise<void> {
    const requestId = (job.data as { requestId?: unknown }).requestId;
    return withLogFields({ jobId: job.id, requestId: typeof requestId === 'string' ? requestId : undefined }, () => this.run(job));
  }

  private async run(job: Job<J>): Promise<void> {
    const jobId = job.id!;
    const started = performance.now();
    this.log.debug('job started', { kind: job.data.kind, attempt: job.attemptsStarted });
    const abort = new AbortController();
    this.running.set(jobId, abort);
    const cancellable = isCancellable(this.engine.handlers, job.data.kind);
    if (cancellable) this.deps.cancels?.register(jobId, abort);
    let events: JobEventsPublisher | undefined;
    const startedAt = performance.now();
    let firstTokenAt: number | undefined;
    let outcome: JobOutcomeLabel = 'aborted';
    let usage: { promptTokens: number; completionTokens: number } | undefined;
    this.deps.metrics?.jobTaken(this.name, (job.data as { enqueuedAt?: number }).enqueuedAt);
    try {
      // The flag covers a cancel published before this worker took the job; its round trip
      // overlaps with reading the event log.
      const flagged = cancellable ? this.deps.publisher.exists(jobCancelKey(jobId)).then((n) => n === 1) : Promise.resolve(false);
      flagged.catch(() => undefined);
      events = await JobEventsPublisher.forJob(this.deps.publisher, jobId, job.attemptsStarted > 1);
      if (events.alreadyStreamed) {
        // A worker died after streaming part of this answer; replaying it would repeat text.
        outcome = 'error';
        await events.emit(workerLostEvent());
        return;
      }
      const publisher = events;
      const ctx: JobContext = {
        jobId,
        workerId: this.deps.workerId,
        signal: abort.signal,
        emit: (event) => {
          if (firstTokenAt === undefined && event.type === 'delta') firstTokenAt = performance.now();
          void publisher.emit(event);
        },
        cancelFlagged: async () => {
          const cancelled = await flagged;
          if (cancelled) abort.abort();
          return cancelled;
        },
      };
      const end = this.endAfterStop(jobId, await runKind(this.engine, job.data, ctx, { model: this.name, log: this.log }));
      if (end) {
        outcome = end.type === 'error' ? 'error' : 'ok';
        if (end.type === 'done') usage = end.usage;
        await events.emit(end);
      }
    } catch (err) {
      // Only Redis failures get here (runKind never throws): the gateway's own checks take over.
      this.log.warn('could not report a job', { jobId, error: (err as Error).message });
    } finally {
      this.deps.metrics?.jobEnded({ kind: job.data.kind, model: this.name, outcome, startedAt, firstTokenAt, usage });
      this.running.delete(jobId);
      this.stopped.delete(jobId);
      if (cancellable) this.deps.cancels?.unregister(jobId);
      this.lastUsed = Date.now();
      this.hold(job.data.keepAliveMs);
      this.log.debug('job finished', { kind: job.data.kind, ms: Math.round(performance.now() - started), aborted: abort.signal.aborted || undefined });
    }
  }

  /** A job cut by an unload (aborted, or failing because its model was freed) gets the retryable error. */
  private endAfterStop(jobId: string, end: JobEnd): JobEnd {
    if (!this.stopped.has(jobId) || (end !== undefined && (end.type !== 'error' || end.status < 500))) return end;
    return (this.options.stoppedEvent ?? modelUnloadedEvent)(this.name);
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
    const drained = await Promise.race([closing.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), drainMs)))]);
    clearTimeout(timer);
    let aborted = 0;
    if (!drained) {
      for (const [jobId, controller] of this.running) {
        this.stopped.add(jobId);
        controller.abort();
        aborted++;
      }
    }
    // Aborted runs end before their model is freed under them; an engine whose runs cannot be
    // aborted (ONNX) fails them by freeing the model.
    if (this.engine.abortable) await closing;
    const stats = this.engine.stats?.();
    await this.engine.dispose().catch((err: Error) => this.log.warn('dispose failed', { error: err.message }));
    await closing;
    this.log.info('model unloaded', { aborted, ...stats });
    return { aborted };
  }
}
