/**
 * Serves one upstream model: consumes its BullMQ queue with the model's concurrency, runs each job
 * through the router (deployments, fallback) and publishes the neutral events. Stopping drains
 * running requests for a bounded time, then aborts the rest with a clear error.
 */
import type { Job, Worker } from 'bullmq';
import type Redis from 'ioredis';
import {
  BACKENDS,
  REDIS_PREFIX,
  jobCancelKey,
  upstreamQueueName,
  type BackendJobKind,
  type QueuedJobData,
  type UpstreamJobData,
  type UpstreamModelDescriptor,
  type WorkerModelState,
} from '@switchyard/contracts';
import { CancelListener, closeQueueWorker, consumeQueue, JobEventsPublisher, Logger, serverErrorEvent, workerLostEvent } from '@switchyard/runtime';
import { UpstreamFailure, UpstreamRouter } from '@switchyard/upstream';

export interface UpstreamHostDeps {
  redisUrl: string;
  publisher: Redis;
  cancels: CancelListener;
  workerId: string;
  logger: Logger;
}

export class UpstreamModelHost {
  /** One handler per kind the backend table gives upstream (the worker checks them at boot). */
  private static readonly HANDLERS: Record<BackendJobKind<'upstream'>, (host: UpstreamModelHost, job: Job<UpstreamJobData>) => Promise<void>> = {
    upstream: (host, job) => host.processUpstream(job),
  };
  static readonly handledKinds = Object.keys(UpstreamModelHost.HANDLERS);

  private worker: Worker<QueuedJobData> | undefined;
  private connection: Redis | undefined;
  private readonly router: UpstreamRouter;
  private readonly running = new Map<string, AbortController>();
  private readonly stopped = new Set<string>();
  private lastUsed = Date.now();
  private state: WorkerModelState['state'] = 'loading';
  private readonly log: Logger;

  constructor(
    readonly descriptor: UpstreamModelDescriptor,
    private readonly deps: UpstreamHostDeps,
  ) {
    this.log = deps.logger.child(descriptor.name);
    this.router = new UpstreamRouter(descriptor, this.log);
  }

  status(): WorkerModelState {
    return {
      name: this.descriptor.name,
      state: this.state,
      slots: this.descriptor.concurrency,
      busy: this.running.size,
      contextSize: this.descriptor.contextSize,
      threads: 0,
      lastUsed: this.lastUsed,
      keepAliveMs: -1,
    };
  }

  start(): void {
    const consumer = consumeQueue<QueuedJobData>(upstreamQueueName(this.descriptor.name), (job) => this.process(job), {
      redisUrl: this.deps.redisUrl,
      connectionName: `switchyard-upstream-${this.deps.workerId}`,
      prefix: REDIS_PREFIX,
      concurrency: this.descriptor.concurrency,
      lockDuration: BACKENDS.upstream.lockDurationMs,
      stalledInterval: BACKENDS.upstream.stalledIntervalMs,
      log: this.log,
    });
    this.worker = consumer.worker;
    this.connection = consumer.connection;
    this.state = 'ready';
    this.log.info('upstream model ready', {
      deployments: this.descriptor.deployments.map((d) => `${d.baseUrl} (${d.model})`),
      routing: this.descriptor.routing,
      concurrency: this.descriptor.concurrency,
    });
  }

  private async process(job: Job<QueuedJobData>): Promise<void> {
    if (job.data.kind !== 'upstream') {
      // Older gateways queued token tools here; the table no longer routes them to upstream models.
      // Token tools and llama jobs need the model's own tokenizer, which an upstream does not expose.
      const events = await JobEventsPublisher.forJob(this.deps.publisher, job.id!, false);
      await events.emit({ type: 'error', status: 400, errorType: 'invalid_request_error', message: `'${this.descriptor.name}' is served by an upstream server; this endpoint needs a local model.`, code: 'unsupported_for_upstream', param: 'model' });
      return;
    }
    return UpstreamModelHost.HANDLERS[job.data.kind](this, job as Job<UpstreamJobData>);
  }

  private async processUpstream(job: Job<UpstreamJobData>): Promise<void> {
    const jobId = job.id!;
    const abort = new AbortController();
    this.running.set(jobId, abort);
    this.deps.cancels.register(jobId, abort);
    let events: JobEventsPublisher | undefined;
    try {
      const flagged = this.deps.publisher.exists(jobCancelKey(jobId));
      events = await JobEventsPublisher.forJob(this.deps.publisher, jobId, job.attemptsStarted > 1);
      if (events.alreadyStreamed) {
        await events.emit(workerLostEvent());
        return;
      }
      if ((await flagged) === 1) return;
      const publisher = events;
      await publisher.emit({ type: 'start', workerId: this.deps.workerId, promptTokens: 0 });
      let answer: Record<string, unknown> | undefined;
      const result = await this.router.run(
        job.data.endpoint,
        job.data.body,
        { delta: (d) => void publisher.emit({ type: 'delta', ...d }), result: (data) => (answer = data) },
        abort.signal,
      );
      if (result.aborted) {
        if (this.stopped.has(jobId)) await events.emit(serverErrorEvent(503, 'worker_stopping', 'The worker serving this request is shutting down. Retry the request.'));
        return;
      }
      if (answer !== undefined) await events.emit({ type: 'result', data: { ...answer, model: job.data.model } });
      else await events.emit({ type: 'done', finishReason: result.finishReason, usage: result.usage });
    } catch (err) {
      const event =
        err instanceof UpstreamFailure
          ? err.toEvent()
          : serverErrorEvent(500, 'upstream_worker_failed', 'The upstream worker failed while serving this request.');
      if (!(err instanceof UpstreamFailure)) this.log.error('job failed', { jobId, error: (err as Error).stack ?? String(err) });
      await events?.emit(event).catch(() => undefined);
    } finally {
      this.running.delete(jobId);
      this.stopped.delete(jobId);
      this.deps.cancels.unregister(jobId);
      this.lastUsed = Date.now();
    }
  }

  /** Stops taking jobs, lets running ones finish for up to `drainMs`, then aborts the rest. */
  async stop(drainMs: number): Promise<void> {
    this.state = 'unloading';
    const closing = this.worker ? closeQueueWorker(this.worker, this.connection) : Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([closing.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), drainMs)))]);
    clearTimeout(timer);
    if (!drained) {
      for (const [jobId, controller] of this.running) {
        this.stopped.add(jobId);
        controller.abort();
      }
      await closing;
    }
  }
}

