/**
 * One connected remote runner, after it authenticated: the gateway consumes the queues of the models
 * it registered on its behalf (BullMQ, concurrency = the runner's parallel slots), forwards each job
 * over the gRPC stream, publishes the events the runner sends back as the job's numbered events, and
 * writes a heartbeat for it so /v1/models and every gateway replica see its models. Cancels go to
 * the runner. When the runner goes, a running job that has streamed nothing moves back to the queue
 * when another runner serves the model (same job id: the client's request just continues); the
 * others end with an error at once, and jobs still waiting fail when no other runner serves the model.
 */
import { Queue, WaitingError, Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import { hostname } from 'node:os';
import {
  BACKENDS,
  HEARTBEAT_INTERVAL_MS,
  REDIS_PREFIX,
  isRunnerHeartbeat,
  jobCancelKey,
  type UnsequencedEvent,
  type QueuedJobData,
  type RunnerHeartbeat,
  type RunnerModelDescriptor,
} from '@switchyard/contracts';
import { closeQueueWorker, createRedis, JobEventsPublisher, OwnerWatch, removeHeartbeat, serverErrorEvent, workerLostEvent, writeHeartbeat, type CancelListener, type GatewayMessage, type Logger, type RunnerServerStream, type UnsequencedError } from '@switchyard/runtime';
import type { WorkerRegistry } from '../core/worker-registry.service';

interface PendingJob {
  model: string;
  events: JobEventsPublisher;
  /** Some text went to the client: the job can no longer move to another runner. */
  streamed: boolean;
  /** `requeue`: give the job back to the queue for another runner. */
  done: (requeue?: boolean) => void;
}

export interface RunnerSessionDeps {
  redisUrl: string;
  publisher: Redis;
  cancels: CancelListener;
  registry: WorkerRegistry;
  log: Logger;
}

const EVENT_TYPES = new Set(['start', 'delta', 'done', 'result', 'error']);

export class RunnerSession {
  private readonly workers: Worker<QueuedJobData>[] = [];
  private connection: Redis | undefined;
  private owners: OwnerWatch | undefined;
  private readonly pending = new Map<string, PendingJob>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly startedAt = Date.now();

  constructor(
    readonly id: string,
    readonly runnerName: string,
    readonly models: RunnerModelDescriptor[],
    private readonly call: RunnerServerStream,
    private readonly deps: RunnerSessionDeps,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS);
    this.connection = createRedis(this.deps.redisUrl, `switchyard-runner-${this.id}`);
    // A job whose gateway died is dropped, or cancelled while it runs, as on every worker (OwnerWatch).
    this.owners = new OwnerWatch(this.connection, this.deps.log);
    for (const m of this.models) {
      const worker = new Worker<QueuedJobData>(BACKENDS.runner.queueName(m.name), this.owners.wrap((job, token) => this.process(m, job, token)), {
        connection: this.connection,
        prefix: REDIS_PREFIX,
        concurrency: m.parallel,
        lockDuration: BACKENDS.runner.lockDurationMs,
        stalledInterval: BACKENDS.runner.stalledIntervalMs,
        maxStalledCount: 1,
      });
      worker.on('error', (err) => this.deps.log.error('runner queue error', { runner: this.id, error: err.message }));
      this.workers.push(worker);
    }
  }

  private send(message: GatewayMessage): void {
    if (!this.closed) this.call.write(message);
  }

  private async process(model: RunnerModelDescriptor, job: Job<QueuedJobData>, token?: string): Promise<void> {
    const jobId = job.id!;
    const events = await JobEventsPublisher.forJob(this.deps.publisher, jobId, job.attemptsStarted > 1);
    if (events.alreadyStreamed) {
      await events.emit(workerLostEvent('runner'));
      return;
    }
    if (this.closed) {
      await events.emit(disconnected(model.name));
      return;
    }
    if ((await this.deps.publisher.exists(jobCancelKey(jobId))) === 1) return;
    const abort = new AbortController();
    const requeue = await new Promise<boolean>((resolve) => {
      this.pending.set(jobId, { model: model.name, events, streamed: false, done: (again = false) => resolve(again) });
      abort.signal.addEventListener('abort', () => {
        // The client left: tell the runner to stop; its later events for the job are dropped.
        this.send({ kind: 'cancel', cancel: { job_id: jobId } });
        this.pending.delete(jobId);
        resolve(false);
      });
      this.deps.cancels.register(jobId, abort);
      this.send({ kind: 'job', job: { job_id: jobId, model: model.name, data_json: JSON.stringify(job.data) } });
    });
    this.deps.cancels.unregister(jobId);
    if (requeue) {
      // Back to wait under the same id; the next runner continues its event numbering.
      await job.moveToWait(token);
      throw new WaitingError();
    }
  }

  /** An event the runner sent for one of its jobs. */
  onEvent(jobId: string, json: string): void {
    const job = this.pending.get(jobId);
    if (!job) return;
    let event: UnsequencedEvent;
    try {
      event = JSON.parse(json) as UnsequencedEvent;
      if (typeof event !== 'object' || event === null || !EVENT_TYPES.has(event.type)) throw new Error('unknown event type');
    } catch (err) {
      this.deps.log.warn('runner sent a malformed event', { runner: this.id, jobId, error: (err as Error).message });
      this.finish(jobId, serverErrorEvent(502, 'runner_bad_event', 'The runner sent a malformed event.'));
      return;
    }
    if (event.type === 'start') event = { ...event, workerId: this.id };
    if (event.type === 'done' || event.type === 'result' || event.type === 'error') this.finish(jobId, event);
    else {
      if (event.type === 'delta') job.streamed = true;
      void job.events.emit(event);
    }
  }

  private finish(jobId: string, event: UnsequencedEvent): void {
    const job = this.pending.get(jobId);
    if (!job) return;
    this.pending.delete(jobId);
    void job.events
      .emit(event)
      .catch((err: Error) => this.deps.log.warn('publishing a runner event failed', { jobId, error: err.message }))
      .finally(job.done);
  }

  /** The runner is gone (stream ended, failed or went silent): fail its work and leave the fleet. */
  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.deps.log.warn('runner disconnected', { runner: this.id, name: this.runnerName, reason, running: this.pending.size });
    // Stop fetching first: a job given back below must go to another runner, not to this session.
    this.owners?.stop();
    const closing = Promise.allSettled(this.workers.map((w) => closeQueueWorker(w)));
    const others = await this.deps.registry.workers(true).catch(() => []);
    const servedElsewhere = (model: string): boolean =>
      others.some((w) => w.id !== this.id && isRunnerHeartbeat(w) && w.runnerModels.some((x) => x.name === model));
    for (const [jobId, job] of [...this.pending]) {
      if (!job.streamed && servedElsewhere(job.model)) {
        this.pending.delete(jobId);
        this.deps.log.info('moving an unstarted job to another runner', { runner: this.id, jobId, model: job.model });
        job.done(true);
      } else {
        this.finish(jobId, disconnected(job.model));
      }
    }
    await removeHeartbeat(this.deps.publisher, this.id);
    await closing;
    await this.failOrphans(servedElsewhere);
    await this.connection?.quit().catch(() => undefined);
  }

  /** Jobs still waiting for a model no live runner serves any more get an error instead of a timeout. */
  private async failOrphans(servedElsewhere: (model: string) => boolean): Promise<void> {
    for (const m of this.models) {
      if (servedElsewhere(m.name)) continue;
      const queue = new Queue<QueuedJobData>(BACKENDS.runner.queueName(m.name), { connection: this.deps.publisher, prefix: REDIS_PREFIX });
      try {
        for (const job of await queue.getWaiting()) {
          if (job.id === undefined) continue;
          const removed = await queue.remove(job.id).catch(() => 0);
          if (removed !== 1) continue;
          const events = await JobEventsPublisher.forJob(this.deps.publisher, job.id, false);
          await events.emit(disconnected(m.name)).catch(() => undefined);
        }
      } finally {
        await queue.close().catch(() => undefined);
      }
    }
  }

  private async beat(): Promise<void> {
    if (this.closed) return;
    const hb: RunnerHeartbeat = {
      id: this.id,
      host: `${this.runnerName} via ${hostname()}`,
      pid: 0,
      backend: 'runner',
      startedAt: this.startedAt,
      freeMemory: 0,
      totalMemory: 0,
      servable: this.models.map((m) => m.name),
      models: this.models.map((m) => ({
        name: m.name,
        state: 'ready',
        slots: m.parallel,
        busy: [...this.pending.values()].filter((j) => j.model === m.name).length,
        contextSize: m.contextSize,
        threads: 0,
        lastUsed: Date.now(),
        keepAliveMs: -1,
      })),
      runnerModels: this.models,
    };
    try {
      await writeHeartbeat(this.deps.publisher, hb);
    } catch (err) {
      this.deps.log.warn('runner heartbeat failed', { runner: this.id, error: (err as Error).message });
    }
  }
}


function disconnected(model: string): UnsequencedError {
  return serverErrorEvent(502, 'runner_disconnected', `The runner serving '${model}' disconnected.`);
}
