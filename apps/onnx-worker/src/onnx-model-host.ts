/**
 * Serves one ONNX model: loads it through its model type, and consumes the model's BullMQ queue with
 * concurrency `parallel`, so many jobs are held at once and their inputs batched into shared runs.
 * Each job answers with one `result` event (or an `error`). Unloading stops taking jobs, lets the
 * running ones finish for a bounded time, then frees the model.
 */
import type { Job, Worker } from 'bullmq';
import type Redis from 'ioredis';
import {
  BACKENDS,
  REDIS_PREFIX,
  onnxQueueName,
  type OnnxModelDescriptor,
  type TaskJobData,
  type WorkerModelState,
} from '@switchyard/contracts';
import { closeQueueWorker, consumeQueue, JobEventsPublisher, Logger, modelUnloadedEvent, Rejection, rejectionEvent, serverErrorEvent, type UnsequencedError } from '@switchyard/runtime';
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

export interface OnnxModelHostDeps {
  lib: TransformersModule;
  device: 'cpu' | 'cuda';
  redisUrl: string;
  /** Shared connection for publishing events. */
  publisher: Redis;
  workerId: string;
  logger: Logger;
}

export class OnnxModelHost {
  private served: ServedModel | undefined;
  private worker: Worker<TaskJobData> | undefined;
  private queueConnection: Redis | undefined;
  private state: WorkerModelState['state'] = 'loading';
  private error: string | undefined;
  private running = 0;
  /** Jobs taken whose inputs are not yet queued for a model run (they may join the next batch). */
  private preparing = 0;
  private lastUsed = Date.now();
  private readonly log: Logger;

  constructor(
    readonly descriptor: OnnxModelDescriptor,
    private readonly deps: OnnxModelHostDeps,
  ) {
    this.log = deps.logger.child(descriptor.name);
  }

  get name(): string {
    return this.descriptor.name;
  }

  get currentState(): WorkerModelState['state'] {
    return this.state;
  }

  status(): WorkerModelState {
    return {
      name: this.descriptor.name,
      state: this.state,
      slots: this.descriptor.parallel,
      busy: this.running,
      contextSize: this.served?.contextSize ?? this.descriptor.contextSize,
      threads: this.descriptor.threads,
      lastUsed: this.lastUsed,
      keepAliveMs: this.descriptor.keepAliveMs,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  idleExpired(now = Date.now()): boolean {
    const keepAlive = this.descriptor.keepAliveMs;
    return this.state === 'ready' && this.running === 0 && keepAlive >= 0 && now - this.lastUsed >= keepAlive;
  }

  async load(): Promise<void> {
    const d = this.descriptor;
    const started = Date.now();
    try {
      this.served = await MODEL_TYPES[d.task].load(d, {
        lib: this.deps.lib,
        device: this.deps.device,
        othersComing: () => this.preparing > 0,
      });
    } catch (err) {
      this.state = 'failed';
      this.error = (err as Error).message;
      this.log.error('model failed to load', { path: d.path, error: this.error });
      throw err;
    }
    const consumer = consumeQueue<TaskJobData>(onnxQueueName(d.name), (job) => this.process(job), {
      redisUrl: this.deps.redisUrl,
      connectionName: `switchyard-onnx-${this.deps.workerId}`,
      prefix: REDIS_PREFIX,
      concurrency: d.parallel,
      lockDuration: BACKENDS.onnx.lockDurationMs,
      stalledInterval: BACKENDS.onnx.stalledIntervalMs,
      log: this.log,
    });
    this.worker = consumer.worker;
    this.queueConnection = consumer.connection;
    this.state = 'ready';
    this.lastUsed = Date.now();
    this.log.info('model ready', { task: d.task, path: d.path, ms: Date.now() - started, maxBatch: d.maxBatch, parallel: d.parallel, threads: d.threads });
  }

  private async process(job: Job<TaskJobData>): Promise<void> {
    this.running++;
    this.preparing++;
    let joined = false;
    const join = (): void => {
      if (!joined) {
        joined = true;
        this.preparing--;
      }
    };
    let events: JobEventsPublisher | undefined;
    let announce: NodeJS.Timeout | undefined;
    try {
      const publisher = await JobEventsPublisher.forJob(this.deps.publisher, job.id!, job.attemptsStarted > 1);
      events = publisher;
      announce = setTimeout(() => void publisher.emit({ type: 'start', workerId: this.deps.workerId, promptTokens: 0 }), START_EVENT_AFTER_MS);
      const result = await this.served!.run(job.data, { joined: join });
      clearTimeout(announce);
      await events.emit({ type: 'result', workerId: this.deps.workerId, data: result });
    } catch (err) {
      clearTimeout(announce);
      const unloaded = this.state === 'unloading' && !(err instanceof Rejection);
      if (!(err instanceof Rejection) && !unloaded) this.log.error('job failed', { jobId: job.id, kind: job.data.kind, error: (err as Error).stack ?? String(err) });
      await events?.emit(toErrorEvent(err, this.name, unloaded)).catch(() => undefined);
    } finally {
      clearTimeout(announce);
      if (!joined) {
        join();
        this.served?.poke();
      }
      this.running--;
      this.lastUsed = Date.now();
    }
  }

  /** Stops taking jobs; running ones get `drainMs` to finish before the model is freed under them. */
  async unload(drainMs: number): Promise<void> {
    this.state = 'unloading';
    const closing = this.worker ? closeQueueWorker(this.worker, this.queueConnection) : Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closing, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
    clearTimeout(timer);
    // Past the drain, disposing fails whatever is still queued; their jobs report the error.
    const stats = this.served?.stats();
    await this.served?.dispose().catch((err: Error) => this.log.warn('dispose failed', { error: err.message }));
    await closing;
    this.served = undefined;
    this.log.info('model unloaded', { runs: stats?.runs, inputs: stats?.items, largestBatch: stats?.largest });
  }
}

/** A rejected input is the client's 400; a job cut by an unload past its drain a 503 to retry, as on the llm worker. */
function toErrorEvent(err: unknown, model: string, unloaded: boolean): UnsequencedError {
  if (err instanceof Rejection) return rejectionEvent(err);
  if (unloaded) return modelUnloadedEvent(model);
  return serverErrorEvent(500, 'inference_failed', `The model '${model}' failed while processing this request.`);
}
