/**
 * Loads and unloads models on workers: by admin request, or on demand when a request names a model
 * nobody holds. Commands go to one worker's control channel; the reply comes on a channel the
 * gateway subscribed to first. A Redis lock makes concurrent on-demand requests start one load.
 * Requests waiting for a model nobody serves are recorded in Redis (AwaitingWorker), the demand an
 * autoscaler reads to start the model's first worker.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  HEARTBEAT_INTERVAL_MS,
  awaitingWorkerKey,
  controlReplyChannel,
  modelLoadLockKey,
  queueNameFor,
  workerControlChannel,
  workerHeartbeatKey,
  type ControlCommand,
  type ControlReply,
  type LoadArgs,
  type LoadProgressMessage,
  type ModelDescriptor,
} from '@switchyard/contracts';
import { Logger } from '@switchyard/runtime';
import { AwaitingWorker } from './awaiting-worker';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';
import { OpenAIError } from './openai-error';
import { RedisConnections } from './redis-connections';
import { LoadStepWatch } from './load-step-watch';
import { RedisSubscriptions } from './redis-subscriptions';
import { WorkerRegistry } from './worker-registry.service';

export interface LoadResult {
  model: string;
  worker: string;
  ms: number;
}

type CommandBody = { op: 'load'; model: string; args: LoadArgs } | { op: 'unload'; model: string; drainMs: number };

/** How often a control wait looks whether its worker is still the one it asked. */
const CONTROL_WATCH_MS = 1000;
/** How often a request waiting for a model tries the on-demand load again while a worker that can serve it holds nothing. */
const RELOAD_TRY_MS = 1000;

@Injectable()
export class ModelControlService implements OnApplicationShutdown {
  private readonly log = new Logger('gateway.models');
  /** Hear each load this gateway commanded that succeeded, with the worker's time (the metrics). */
  readonly loadListeners: Array<(model: string, ms: number) => void> = [];
  private readonly loadSteps: LoadStepWatch;
  private readonly awaiting: AwaitingWorker;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly redis: RedisConnections,
    private readonly subscriptions: RedisSubscriptions,
    private readonly registry: WorkerRegistry,
  ) {
    this.loadSteps = new LoadStepWatch(subscriptions);
    this.awaiting = new AwaitingWorker(redis.command);
  }

  onApplicationShutdown(): void {
    this.awaiting.stop();
  }

  /** Jobs of requests waiting for a worker to serve the model, over every gateway (unexpired entries). */
  awaitingWorker(model: ModelDescriptor): Promise<number> {
    return this.awaiting.count(awaitingWorkerKey(queueNameFor(model)));
  }

  /**
   * Loads the model on the named worker, or on the best one with room. `onProgress` hears the
   * worker's load steps (see LoadProgressMessage) until the load ends.
   */
  async load(model: ModelDescriptor, options: { worker?: string; args?: LoadArgs; onProgress?: (step: LoadProgressMessage & { worker: string }) => void } = {}): Promise<LoadResult> {
    let workerId = options.worker;
    if (workerId !== undefined) {
      const worker = (await this.registry.workers(true)).find((w) => w.id === workerId);
      if (!worker) throw new OpenAIError(404, `No live worker '${workerId}'.`, 'invalid_request_error', 'worker_not_found', 'worker');
      if (!worker.servable.includes(model.name)) {
        throw new OpenAIError(400, `Worker '${workerId}' cannot serve '${model.name}'.`, 'invalid_request_error', 'model_not_servable', 'worker');
      }
      const held = worker.models.find((m) => m.name === model.name && m.state !== 'failed');
      if (held && options.args !== undefined) {
        throw new OpenAIError(
          409,
          `'${model.name}' is already loaded on '${workerId}' with its current settings: unload it there first to load it with new args.`,
          'invalid_request_error',
          'model_already_loaded',
          'args',
        );
      }
    } else {
      const already = (await this.registry.placements(model.name, true)).find((p) => p.model.state === 'ready');
      if (already && options.args === undefined) return { model: model.name, worker: already.worker.id, ms: 0 };
      workerId = (await this.registry.bestWorkerFor(model.name))?.id;
      if (workerId === undefined && already) {
        // A worker keeps what it holds as it is, so new args need another worker or an unload first.
        throw new OpenAIError(
          409,
          `'${model.name}' is already loaded on '${already.worker.id}' with its current settings, and no other worker can load it: unload it first to load it with new args.`,
          'invalid_request_error',
          'model_already_loaded',
          'args',
        );
      }
      if (workerId === undefined) {
        throw new OpenAIError(
          503,
          `No live worker can load '${model.name}' right now.`,
          'server_error',
          'no_worker_available',
          null,
          { 'Retry-After': '5' },
        );
      }
    }
    const onProgress = options.onProgress;
    const worker = workerId;
    // Subscribed before the command goes out, so the load's first step cannot be missed.
    const unlisten = onProgress
      ? await this.loadSteps.watch(worker, (step) => {
          if (step.model === model.name) onProgress({ ...step, worker });
        })
      : undefined;
    let reply: ControlReply & { ok: true };
    try {
      reply = await this.command(workerId, { op: 'load', model: model.name, args: options.args ?? {} }, this.env.LOAD_TIMEOUT_MS);
    } finally {
      await unlisten?.();
    }
    this.log.info('model loaded', { model: model.name, worker: workerId, ms: reply.ms });
    for (const listener of this.loadListeners) listener(model.name, reply.ms);
    return { model: model.name, worker: workerId, ms: reply.ms };
  }

  /** Unloads the model from the named worker, or from every worker holding it. */
  async unload(model: ModelDescriptor, options: { worker?: string; drainMs?: number } = {}): Promise<string[]> {
    const holders = (await this.registry.placements(model.name, true))
      .filter((p) => options.worker === undefined || p.worker.id === options.worker)
      .map((p) => p.worker.id);
    if (holders.length === 0) {
      throw new OpenAIError(404, `The model '${model.name}' is not loaded${options.worker ? ` on '${options.worker}'` : ''}.`, 'invalid_request_error', 'model_not_loaded', 'model');
    }
    const drainMs = options.drainMs ?? this.env.UNLOAD_DRAIN_MS;
    await Promise.all(holders.map((w) => this.command(w, { op: 'unload', model: model.name, drainMs }, drainMs + this.env.LOAD_TIMEOUT_MS)));
    this.log.info('model unloaded', { model: model.name, workers: holders });
    return holders;
  }

  /**
   * For a request: makes sure some worker serves the model, loading it on demand when allowed.
   * Resolves false when nothing serves it within the bounds (the caller answers 503): a request waits
   * up to `LOAD_TIMEOUT_MS` only while a load is under way on a live worker that can serve the model,
   * and otherwise `WORKER_WAIT_MS` (for one to start), so with no worker alive every request gets
   * its 503 at the same, short bound.
   *
   * `jobs` are what the request will enqueue once served (one id a job, default one): they count as
   * awaiting a worker while the wait lasts. None for a job already in the queue, which the queue counts.
   * The common path, a model already served, writes nothing.
   */
  async ensureServed(model: ModelDescriptor, signal: AbortSignal, jobs: readonly string[] = [randomUUID()]): Promise<boolean> {
    if (await this.registry.serves(model.name)) return true;
    const key = awaitingWorkerKey(queueNameFor(model));
    // Counting is for the autoscaler; a failed write must not fail the request.
    await this.awaiting.add(key, jobs).catch((err: Error) => this.log.warn('recording a wait for a worker failed', { model: model.name, error: err.message }));
    try {
      return await this.waitUntilServed(model, signal);
    } finally {
      await this.awaiting.remove(key, jobs).catch(() => undefined);
    }
  }

  /**
   * Loads the model on demand and polls the fleet until it is served or the bound for what is
   * happening now has passed. The load is tried at once and again (at most once a second) whenever no
   * load is under way and a live worker can serve the model: a worker started for it (scale from
   * zero) comes up holding nothing when the model is not preloaded, and would otherwise never get a
   * load command.
   */
  private async waitUntilServed(model: ModelDescriptor, signal: AbortSignal): Promise<boolean> {
    const started = Date.now();
    let lastTry: number | undefined;
    while (!signal.aborted) {
      const placements = await this.registry.placements(model.name, true);
      if (placements.some((p) => p.model.state === 'ready')) return true;
      let loading = placements.some((p) => p.model.state === 'loading');
      const candidate = model.autoLoad && !loading && (await this.registry.workers()).some((w) => w.servable.includes(model.name));
      if (model.autoLoad && !loading && (lastTry === undefined || (candidate && Date.now() - lastTry >= RELOAD_TRY_MS))) {
        lastTry = Date.now();
        if (await this.tryLoad(model)) return true;
      }
      loading ||= model.autoLoad && candidate && (await this.redis.command.exists(modelLoadLockKey(model.name))) === 1;
      const bound = loading ? this.env.LOAD_TIMEOUT_MS : this.env.WORKER_WAIT_MS;
      const left = started + bound - Date.now();
      if (left <= 0) return false;
      await new Promise((r) => setTimeout(r, Math.min(100, left)));
    }
    return false;
  }

  /**
   * One on-demand load (the caller has just seen no load under way), unless another request's load
   * holds the lock: true when it loaded, false when no worker could take it now (none alive, or the
   * chosen one just died; one may be starting).
   */
  private async tryLoad(model: ModelDescriptor): Promise<boolean> {
    const lock = modelLoadLockKey(model.name);
    const ttl = Math.ceil(this.env.LOAD_TIMEOUT_MS / 1000);
    if ((await this.redis.command.set(lock, '1', 'EX', ttl, 'NX')) !== 'OK') return false;
    try {
      await this.load(model);
      return true;
    } catch (err) {
      if (err instanceof OpenAIError && (err.code === 'no_worker_available' || err.code === 'worker_unavailable' || err.code === 'worker_lost')) return false;
      throw err;
    } finally {
      await this.redis.command.del(lock);
    }
  }

  private async command(workerId: string, body: CommandBody, timeoutMs: number): Promise<ControlReply & { ok: true }> {
    const requestId = randomUUID();
    let resolveReply: (r: ControlReply) => void = () => undefined;
    const replied = new Promise<ControlReply>((resolve) => (resolveReply = resolve));
    const unlisten = await this.subscriptions.listen(controlReplyChannel(requestId), (m) => resolveReply(JSON.parse(m) as ControlReply));
    let timer: NodeJS.Timeout | undefined;
    const watching = new AbortController();
    try {
      const cmd = { ...body, requestId } as ControlCommand;
      const receivers = await this.redis.command.publish(workerControlChannel(workerId), JSON.stringify(cmd));
      if (receivers === 0) throw new OpenAIError(503, `Worker '${workerId}' is not listening.`, 'server_error', 'worker_unavailable');
      const reply = await Promise.race([
        replied,
        this.watchWorker(workerId, body, watching.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new OpenAIError(504, `Worker '${workerId}' did not finish '${body.op}' of '${body.model}' within ${timeoutMs} ms.`, 'server_error', 'control_timeout')),
            timeoutMs,
          );
        }),
      ]);
      if (!reply.ok) {
        throw new OpenAIError(reply.status, reply.message, reply.status >= 500 ? 'server_error' : 'invalid_request_error', reply.code, null);
      }
      return reply;
    } finally {
      clearTimeout(timer);
      watching.abort();
      await unlisten();
    }
  }

  /**
   * Rejects with 502 `worker_lost` once the worker's heartbeat is gone or belongs to another process
   * (a supervisor restarted it under the same id): the command died with it and no reply will come,
   * so the caller is answered within a heartbeat's lifetime instead of at the command's timeout.
   */
  private async watchWorker(workerId: string, body: CommandBody, signal: AbortSignal): Promise<never> {
    let first: string | undefined;
    let missing = 0;
    while (!signal.aborted) {
      // Redis unreachable proves nothing (undefined): the command's timeout still bounds the wait.
      const raw = await this.redis.command.get(workerHeartbeatKey(workerId)).catch(() => undefined);
      const process = raw ? incarnation(raw) : undefined;
      missing = raw === null ? missing + 1 : 0;
      first ??= process;
      // A heartbeat missing for longer than a beat (an emptied Redis is refilled at the next one) is a dead worker.
      const gone = missing * CONTROL_WATCH_MS > HEARTBEAT_INTERVAL_MS;
      if (gone || (process !== undefined && process !== first)) {
        this.log.warn('worker lost during a control command', { worker: workerId, op: body.op, model: body.model, restarted: !gone });
        throw new OpenAIError(502, `Worker '${workerId}' stopped before it finished '${body.op}' of '${body.model}'.`, 'server_error', 'worker_lost');
      }
      await new Promise((resolve) => setTimeout(resolve, CONTROL_WATCH_MS));
    }
    return new Promise<never>(() => undefined);
  }
}

/** Which process wrote a heartbeat: a restarted worker keeps its id but not its pid and start time. */
function incarnation(raw: string): string | undefined {
  try {
    const hb = JSON.parse(raw) as { pid?: unknown; startedAt?: unknown };
    return `${String(hb.pid)}@${String(hb.startedAt)}`;
  } catch {
    return undefined;
  }
}
