/**
 * Runs generations for the HTTP layer: checks the model accepts the jobs (the backend table) and a
 * worker serves it, applies backpressure, subscribes to the job's events, enqueues it with its
 * backend's job options, and yields its events in order. Leaving early (client gone, a sibling
 * failed) cancels the job: a waiting job is removed, a running one told to stop.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import {
  HEARTBEAT_TTL_SECONDS,
  REDIS_PREFIX,
  jobCancelChannel,
  backendOf,
  jobCancelKey,
  queueNameFor,
  type DeltaEvent,
  type ImageDelta,
  type ImageProgress,
  type StartEvent,
  type DoneEvent,
  type ResultEvent,
  type ModelDescriptor,
  type QueuedJobData,
  type TaskJobData,
  type TaskJobName,
  type TaskResult,
} from '@switchyard/contracts';
import { Logger } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';
import { GatewayHeartbeat } from './gateway-heartbeat.service';
import { type JobEventReader, JobEventsSubscriber } from './job-events.subscriber';
import { ModelControlService } from './model-control.service';
import { OpenAIError } from './openai-error';
import { QueueAdmission } from './queue-admission';
import { RedisConnections } from './redis-connections';
import { addUsage, currentRequest, markFirstToken } from './request-context';
import { checkAccepts } from './task-models';
import { WorkerRegistry } from './worker-registry.service';

/**
 * What a task that streams before its result (transcriptions, speech, images) yields: the worker
 * once it has the job, each piece of text, of encoded audio (base64), each image and step, then the
 * result, which is the last.
 */
export type TaskStreamEvent<R extends TaskResult = TaskResult> =
  | { type: 'start'; workerId: string }
  | { type: 'delta'; text: string; audio?: string; image?: ImageDelta; progress?: ImageProgress }
  | { type: 'result'; result: R; workerId: string };

export interface IndexedEvent {
  index: number;
  event: StartEvent | DeltaEvent | DoneEvent | ResultEvent;
}

/** Silence after which the gateway checks the replay log and the worker's heartbeat. */
const IDLE_CHECK_MS = 2000;

@Injectable()
export class InferenceService implements OnApplicationShutdown {
  private readonly queues = new Map<string, Queue<QueuedJobData>>();
  private readonly log = new Logger('gateway.inference');
  private readonly admission: QueueAdmission;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly redis: RedisConnections,
    private readonly subscriber: JobEventsSubscriber,
    private readonly registry: WorkerRegistry,
    private readonly models: ModelControlService,
    private readonly heartbeat: GatewayHeartbeat,
  ) {
    this.admission = new QueueAdmission(redis.command);
  }

  /** Runs every job (e.g. one per prompt or per choice) and merges their events, tagged by index. */
  async *generate(model: ModelDescriptor, jobs: QueuedJobData[], signal: AbortSignal, jobIds?: string[]): AsyncGenerator<IndexedEvent> {
    checkAccepts(model, jobs.map((j) => j.kind));
    const request = currentRequest();
    if (request) request.model = model.name;
    // While Redis is down every step below would wait in ioredis's offline queue for the outage.
    this.redis.assertReady();
    // Subscribing overlaps with the admission checks: both are round trips to Redis.
    // A caller that must find the job again later (a background response, from any replica) names it.
    const ids = jobs.map((_, i) => jobIds?.[i] ?? randomUUID());
    const subscribing = Promise.allSettled(ids.map((id) => this.subscriber.open(id)));
    const admitted = this.admit(model, ids, signal).then(
      () => undefined,
      (err: unknown) => err,
    );
    const settled = await subscribing;
    const readers = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = (await admitted) ?? settled.find((r) => r.status === 'rejected')?.reason;
    if (failure !== undefined) {
      await Promise.allSettled([...readers.map((r) => r.close()), this.admission.release(this.queue(model), ...ids)]);
      throw failure;
    }
    const runs = jobs.map((data, index) => this.runOne(model, data, signal, index, readers[index]));
    try {
      yield* runs.length === 1 ? runs[0] : this.merge(runs);
    } finally {
      // A run that never started has no finally of its own to release its subscription and room.
      await Promise.allSettled([...readers.map((r) => r.close()), this.admission.release(this.queue(model), ...ids)]);
    }
  }

  /** Runs one job that answers with a single result (token tools) and returns it. */
  async request(model: ModelDescriptor, job: QueuedJobData, signal: AbortSignal): Promise<unknown> {
    for await (const { event } of this.generate(model, [job], signal)) {
      if (event.type === 'result') return event.data;
    }
    throw new OpenAIError(502, 'The worker ended the request without an answer.', 'server_error', 'no_result');
  }

  /**
   * Runs one task job (embeddings, classification, rerank) and returns its result and the worker
   * that answered, with the same admission, cancellation and worker-loss handling as generations.
   */
  async runTask(model: ModelDescriptor, data: TaskJobData, signal: AbortSignal): Promise<{ result: TaskResult; workerId: string }> {
    let workerId = '';
    for await (const { event } of this.generate(model, [data], signal)) {
      if (event.type === 'start') workerId = event.workerId;
      if (event.type === 'result') return { result: event.data as TaskResult, workerId: event.workerId ?? workerId };
    }
    throw new OpenAIError(499, 'The request was cancelled.', 'invalid_request_error', 'request_cancelled');
  }

  /**
   * Runs one task job that may stream text (`delta` events) before its result, as `runTask` does;
   * the result's kind is checked against the job's. Leaving the loop early cancels the job.
   */
  async *streamTask<K extends TaskJobName>(
    model: ModelDescriptor,
    data: Extract<TaskJobData, { kind: K }>,
    signal: AbortSignal,
  ): AsyncGenerator<TaskStreamEvent<Extract<TaskResult, { kind: K }>>> {
    let workerId = '';
    for await (const { event } of this.generate(model, [data], signal)) {
      if (event.type === 'start') {
        workerId = event.workerId;
        yield { type: 'start', workerId };
      } else if (event.type === 'delta') {
        yield {
          type: 'delta',
          text: event.text,
          ...(event.audio !== undefined ? { audio: event.audio } : {}),
          ...(event.image ? { image: event.image } : {}),
          ...(event.progress ? { progress: event.progress } : {}),
        };
      } else if (event.type === 'result') {
        const result = event.data as TaskResult;
        if (result.kind !== data.kind) {
          throw new OpenAIError(502, `The worker answered a '${data.kind}' job with a '${result.kind}' result.`, 'server_error', 'bad_result');
        }
        yield { type: 'result', result: result as Extract<TaskResult, { kind: K }>, workerId: event.workerId ?? workerId };
        return;
      }
    }
    throw new OpenAIError(499, 'The request was cancelled.', 'invalid_request_error', 'request_cancelled');
  }

  /** Interleaves several runs' events as they come; closing it closes (and so cancels) them all. */
  private async *merge(runs: AsyncGenerator<IndexedEvent>[]): AsyncGenerator<IndexedEvent> {
    type Step = { index: number; result: IteratorResult<IndexedEvent> };
    const pending = new Map<number, Promise<Step>>();
    const pull = (i: number): void => {
      pending.set(
        i,
        runs[i].next().then((result) => ({ index: i, result })),
      );
    };
    runs.forEach((_, i) => pull(i));
    try {
      while (pending.size > 0) {
        const { index, result } = await Promise.race(pending.values());
        if (result.done) {
          pending.delete(index);
          continue;
        }
        pull(index);
        yield result.value;
      }
    } finally {
      await Promise.allSettled(runs.map((r) => r.return(undefined)));
    }
  }

  /**
   * Fails fast with 503 when nobody serves the model, 429 when its queue is full: the model's slots
   * plus `max_queue` bound the jobs it holds, checked and reserved atomically (see QueueAdmission).
   */
  private async admit(model: ModelDescriptor, jobIds: string[], signal: AbortSignal): Promise<void> {
    if (!(await this.models.ensureServed(model, signal, jobIds))) {
      throw noWorker(model);
    }
    const slots = (await this.registry.placements(model.name))
      .filter((p) => p.model.state === 'ready')
      .reduce((sum, p) => sum + p.model.slots, 0);
    const { admitted, held } = await this.admission.reserve(this.queue(model), model.maxQueue + slots, jobIds);
    const waiting = Math.max(0, held - slots);
    if (!admitted) {
      throw new OpenAIError(
        429,
        `The model '${model.name}' is at capacity (${waiting} requests waiting). Retry after a short wait.`,
        'rate_limit_error',
        'queue_full',
        null,
        { 'Retry-After': String(Math.max(1, Math.ceil(waiting / 4))) },
      );
    }
  }

  private async *runOne(
    model: ModelDescriptor,
    data: QueuedJobData,
    signal: AbortSignal,
    index: number,
    reader: JobEventReader,
  ): AsyncGenerator<IndexedEvent> {
    const queue = this.queue(model);
    const jobId = reader.jobId;
    const interrupt = (): void => reader.interrupt();
    signal.addEventListener('abort', interrupt);
    let finished = false;
    const request = currentRequest();
    try {
      try {
        const stamped = { ...data, owner: this.heartbeat.id, enqueuedAt: Date.now(), ...(request ? { requestId: request.id } : {}) };
        await queue.add(data.kind, stamped, { ...backendOf(model).jobOptions, jobId });
        if (request) request.queuedAt ??= performance.now();
      } finally {
        // Counted by the queue itself from here on.
        await this.admission.release(queue, jobId).catch(() => undefined);
      }
      let waitingSince = Date.now();
      let workerId: string | undefined;
      let streamed = false;
      let lastEventAt = waitingSince;
      let lostLooks = 0;
      while (!signal.aborted) {
        const event = await reader.next(IDLE_CHECK_MS);
        if (event === undefined) {
          if (Date.now() - lastEventAt < IDLE_CHECK_MS) continue;
          lastEventAt = Date.now();
          if (workerId === undefined && Date.now() - waitingSince > this.env.QUEUE_TIMEOUT_MS) {
            if (await this.removeWaiting(queue, jobId)) {
              throw new OpenAIError(
                503,
                `Timed out after ${this.env.QUEUE_TIMEOUT_MS} ms waiting for a free slot on '${model.name}'.`,
                'server_error',
                'queue_timeout',
                null,
                { 'Retry-After': '5' },
              );
            }
          }
          // Neither started nor in the queue, at two looks in a row (a job that just finished without
          // a start event has its answer in the replay log by the second): a restarted Redis lost it,
          // or a worker dropped it as an orphan's. Waiting on would last for ever; the client may retry.
          // Failed without an error event: BullMQ gave the job up after its workers died while holding
          // it (more stalls than a job is retried for); nobody will run it again.
          const state = workerId === undefined ? await queue.getJobState(jobId) : undefined;
          lostLooks = state === 'unknown' || state === 'failed' ? lostLooks + 1 : 0;
          if (lostLooks >= 2 && state === 'failed') {
            throw new OpenAIError(502, 'The workers serving this request stopped responding.', 'server_error', 'worker_lost');
          }
          if (lostLooks >= 2) {
            throw new OpenAIError(503, 'The request was lost from the queue (Redis restarted). Retry the request.', 'server_error', 'job_lost', null, { 'Retry-After': '1' });
          }
          if (workerId === undefined && !(await this.registry.serves(model.name, true))) {
            // Queued for a model nobody serves any more (unloaded just before the job was added, or
            // its worker left): load it again on demand, or fail now rather than at the queue timeout.
            // Already counted by the queue, so not as awaiting a worker too.
            if (!(await this.models.ensureServed(model, signal, [])) && (await this.removeWaiting(queue, jobId))) {
              throw noWorker(model);
            }
          }
          // Read the reconnect time after the check: the check may have waited out an outage.
          if (workerId !== undefined && !(await this.registry.isAlive(workerId)) && !this.redis.reconnectedWithin(HEARTBEAT_TTL_SECONDS * 1000)) {
            // Nothing streamed yet: the job goes back to its queue once the dead worker's lock
            // expires and another worker serving the model runs it (it continues the sequence).
            if (streamed || !(await this.registry.serves(model.name, true))) {
              throw new OpenAIError(502, 'The worker serving this request stopped responding.', 'server_error', 'worker_lost');
            }
            this.log.warn('worker lost before streaming; waiting for the retry', { jobId, workerId });
            workerId = undefined;
            waitingSince = Date.now();
          }
          continue;
        }
        lastEventAt = Date.now();
        lostLooks = 0;
        switch (event.type) {
          case 'start':
            workerId = event.workerId;
            yield { index, event };
            break;
          case 'delta':
            streamed = true;
            markFirstToken(request);
            yield { index, event };
            break;
          case 'done':
            addUsage(event.usage.promptTokens, event.usage.completionTokens, request);
            finished = true;
            yield { index, event };
            return;
          case 'result':
            finished = true;
            yield { index, event };
            return;
          case 'error':
            finished = true;
            throw new OpenAIError(event.status, event.message, event.errorType, event.code, event.param, retryAfter(event.retryAfterSeconds));
        }
      }
    } finally {
      signal.removeEventListener('abort', interrupt);
      if (!finished) await this.cancel(queue, jobId);
      await reader.close().catch(() => undefined);
    }
  }

  private async removeWaiting(queue: Queue<QueuedJobData>, jobId: string): Promise<boolean> {
    try {
      return (await queue.remove(jobId)) === 1;
    } catch {
      return false;
    }
  }

  /**
   * Cancels a job this gateway may not be running (a background response whose gateway is gone):
   * removed if it still waits, told to stop if it runs.
   */
  cancelJob(model: ModelDescriptor, jobId: string): Promise<void> {
    return this.cancel(this.queue(model), jobId);
  }

  /** The cancel flag covers a worker that takes the job before it sees the PUBLISH. */
  private async cancel(queue: Queue<QueuedJobData>, jobId: string): Promise<void> {
    try {
      if (await this.removeWaiting(queue, jobId)) return;
      await this.redis.command.multi().set(jobCancelKey(jobId), '1', 'EX', 600).publish(jobCancelChannel(jobId), '1').exec();
    } catch (err) {
      this.log.warn('cancel failed', { jobId, error: (err as Error).message });
    }
  }

  private queue(model: ModelDescriptor): Queue<QueuedJobData> {
    const name = queueNameFor(model);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<QueuedJobData>(name, { connection: this.redis.command, prefix: REDIS_PREFIX });
      this.queues.set(name, q);
    }
    return q;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}

function retryAfter(seconds: number | undefined): Record<string, string> {
  return seconds === undefined ? {} : { 'Retry-After': String(seconds) };
}

function noWorker(model: ModelDescriptor): OpenAIError {
  return new OpenAIError(503, `No worker is serving the model '${model.name}' right now. Try again later.`, 'server_error', 'no_worker_available', null, {
    'Retry-After': '5',
  });
}
