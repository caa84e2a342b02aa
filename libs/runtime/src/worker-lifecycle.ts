/**
 * What every model-serving worker (llm, onnx, upstream) does around its models: take load and unload commands
 * on its control channel one at a time and reply, load the `preload` models at start, unload models
 * idle past their keep-alive, announce itself with heartbeats, and on shutdown drain and free every
 * model. The worker supplies how to make a host for a model; the hosts do the serving.
 */
import { freemem, hostname, totalmem } from 'node:os';
import type Redis from 'ioredis';
import {
  HEARTBEAT_INTERVAL_MS,
  controlReplyChannel,
  workerControlChannel,
  workerLoadProgressChannel,
  type Backend,
  type ControlCommand,
  type ControlReply,
  type LoadArgs,
  type LoadProgressMessage,
  type WorkerHeartbeat,
  type WorkerModelState,
} from '@switchyard/contracts';
import { removeHeartbeat, writeHeartbeat } from './heartbeat';
import type { Logger } from './logger';
import { Rejection } from './rejection';
import { WorkerHttp } from './worker-http';
import type { WorkerMetrics } from './worker-metrics';

/** A refused command, with the HTTP status and code the gateway should answer. */
export class CommandError extends Rejection {
  constructor(status: number, code: string, message: string) {
    super({ status, code, message });
  }
}

/** One model on a worker, as the lifecycle sees it. */
export interface HostedModel {
  readonly name: string;
  readonly currentState: WorkerModelState['state'];
  status(): WorkerModelState;
  idleExpired(): boolean;
  /** Throws (after cleaning up) when the model cannot be loaded; `onStep` hears of each load step its status shows. */
  load(onStep?: () => void): Promise<void>;
  unload(drainMs: number): Promise<unknown>;
}

export interface WorkerLifecycleOptions<D extends { name: string; preload: boolean }, H extends HostedModel> {
  workerId: string;
  backend: Backend;
  /** Connection for heartbeats and replies; the lifecycle does not close it. */
  publisher: Redis;
  /** Connection in subscriber mode for the control channel; the lifecycle does not close it. */
  subscriber: Redis;
  /** The models this worker may load. */
  models: readonly D[];
  log: Logger;
  /** Checks a load (files, memory, args) and makes the host; throws CommandError to refuse. */
  prepare(base: D, args: LoadArgs): H;
  /** On shutdown, how long running jobs may finish. */
  shutdownDrainMs: number;
  /**
   * For models that are served, never loaded or unloaded on command (upstream models): every model
   * starts at once, a load command is answered as done, an unload is refused with this reason.
   */
  fixedModels?: (model: string) => string;
  /** The worker's metrics (absent with METRICS=off): slot gauges read the hosts at scrape time. */
  metrics?: WorkerMetrics;
  /** Serve probes and metrics on this port (WORKER_HTTP_PORT), started before the preloads. */
  http?: { port: number; host: string };
}

const IDLE_CHECK_MS = 1000;
/** A load step is written to the heartbeat at once, but at most this often (a large load reports hundreds). */
export const LOAD_STEP_BEAT_MS = 250;

export class WorkerLifecycle<D extends { name: string; preload: boolean }, H extends HostedModel> {
  private readonly hosts = new Map<string, H>();
  private readonly catalog: Map<string, D>;
  private readonly timers: NodeJS.Timeout[] = [];
  private commands: Promise<unknown> = Promise.resolve();
  private readonly startedAt = Date.now();
  private readonly onReconnect = (): void => void this.beat();
  private lastBeatAt = 0;
  private stepBeat: NodeJS.Timeout | undefined;
  private httpServer: WorkerHttp | undefined;
  /** Preloads not yet tried, and those that failed (until a later load of theirs succeeds): readiness. */
  private readonly preloadPending = new Set<string>();
  private readonly preloadFailed = new Set<string>();
  private stopping = false;

  constructor(private readonly o: WorkerLifecycleOptions<D, H>) {
    this.catalog = new Map(o.models.map((m) => [m.name, m]));
    o.metrics?.watchModels(() => [...this.hosts.values()].map((h) => h.status()));
  }

  /** Why this worker is not ready (Redis aside): preloads still loading or failed, or shutting down. */
  notReady(): string[] {
    if (this.stopping) return ['shutting down'];
    return [...[...this.preloadPending].map((m) => `'${m}' is still loading`), ...[...this.preloadFailed].map((m) => `'${m}' failed to load`)];
  }

  /** Listens for commands, starts heartbeats and idle checks, then loads the preload models. */
  async start(): Promise<void> {
    const preloads = this.o.models.filter((m) => m.preload || this.o.fixedModels);
    for (const m of preloads) this.preloadPending.add(m.name);
    if (this.o.http) {
      this.httpServer = await WorkerHttp.start({ ...this.o.http, redis: this.o.publisher, notReady: () => this.notReady(), metrics: this.o.metrics, log: this.o.log });
    }
    const channel = workerControlChannel(this.o.workerId);
    this.o.subscriber.on('message', (from: string, message: string) => {
      if (from === channel) this.onCommand(message);
    });
    await this.o.subscriber.subscribe(channel);
    // A restarted Redis is empty: say at once that this worker is alive, rather than at the next tick.
    this.o.publisher.on('ready', this.onReconnect);
    await this.beat();
    this.timers.push(setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS));
    this.timers.push(setInterval(() => this.unloadIdle(), IDLE_CHECK_MS));
    for (const descriptor of preloads) {
      await this.load(descriptor.name, {}).catch((err: Error) => {
        this.preloadFailed.add(descriptor.name);
        this.o.log.warn('not serving a model', { model: descriptor.name, error: err.message });
      });
      this.preloadPending.delete(descriptor.name);
    }
  }

  /** Stops taking commands, drains and unloads every model, and says goodbye. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.stepBeat);
    this.o.publisher.off('ready', this.onReconnect);
    await this.o.subscriber.unsubscribe(workerControlChannel(this.o.workerId)).catch(() => undefined);
    // Stop taking jobs everywhere at once; running ones get the drain window, then are aborted.
    await Promise.all([...this.hosts.values()].map((h) => h.unload(this.o.shutdownDrainMs)));
    this.hosts.clear();
    await removeHeartbeat(this.o.publisher, this.o.workerId);
    await this.httpServer?.stop();
  }

  /** Commands run one at a time, in arrival order. */
  private onCommand(raw: string): void {
    let cmd: ControlCommand;
    try {
      cmd = JSON.parse(raw) as ControlCommand;
    } catch {
      return;
    }
    this.commands = this.commands.then(() => this.runCommand(cmd));
  }

  private async runCommand(cmd: ControlCommand): Promise<void> {
    const started = Date.now();
    let reply: ControlReply;
    try {
      if (this.o.fixedModels) this.checkFixed(cmd, this.o.fixedModels);
      else if (cmd.op === 'load') await this.load(cmd.model, cmd.args);
      else await this.unload(cmd.model, cmd.drainMs);
      reply = { requestId: cmd.requestId, ok: true, model: cmd.model, ms: Date.now() - started };
    } catch (err) {
      const e = err instanceof CommandError ? err : new CommandError(500, 'load_failed', `Loading failed: ${(err as Error).message}`);
      reply = { requestId: cmd.requestId, ok: false, model: cmd.model, status: e.status, code: e.code, message: e.message };
    }
    await this.beat();
    await this.o.publisher.publish(controlReplyChannel(cmd.requestId), JSON.stringify(reply)).catch(() => undefined);
  }

  private checkFixed(cmd: ControlCommand, why: (model: string) => string): void {
    if (!this.hosts.has(cmd.model)) throw new CommandError(404, 'model_not_found', `This worker does not serve '${cmd.model}'.`);
    if (cmd.op === 'unload') throw new CommandError(400, 'not_unloadable', why(cmd.model));
  }

  private async load(name: string, args: LoadArgs): Promise<void> {
    const base = this.catalog.get(name);
    if (!base) throw new CommandError(404, 'model_not_found', `This worker cannot serve '${name}'.`);
    const existing = this.hosts.get(name);
    if (existing && existing.currentState !== 'failed') return;
    const host = this.o.prepare(base, args);
    this.hosts.set(name, host);
    await this.beat();
    this.publishStep(host);
    try {
      await host.load(() => this.onLoadStep(host));
      this.preloadFailed.delete(name);
    } catch (err) {
      this.hosts.delete(name);
      throw new CommandError(400, 'load_failed', `'${name}' failed to load: ${(err as Error).message}`);
    } finally {
      clearTimeout(this.stepBeat);
      this.stepBeat = undefined;
      await this.beat();
    }
  }

  /** A load step: a heartbeat (and the step on the progress channel) now, or LOAD_STEP_BEAT_MS after the last beat. */
  private onLoadStep(host: H): void {
    if (this.stepBeat) return;
    this.stepBeat = setTimeout(
      () => {
        this.stepBeat = undefined;
        if (host.currentState === 'loading') void this.beat().then(() => this.publishStep(host));
      },
      Math.max(0, this.lastBeatAt + LOAD_STEP_BEAT_MS - Date.now()),
    );
  }

  /** Tells a client watching this load (the admin API's SSE load stream) where it stands; best effort. */
  private publishStep(host: H): void {
    const s = host.status();
    const message: LoadProgressMessage = { model: s.name, state: s.state, progress: s.loadProgress, stage: s.loadStage };
    this.o.publisher.publish(workerLoadProgressChannel(this.o.workerId), JSON.stringify(message)).catch(() => undefined);
  }

  private async unload(name: string, drainMs: number): Promise<void> {
    const host = this.hosts.get(name);
    if (!host) throw new CommandError(404, 'model_not_loaded', `'${name}' is not loaded on this worker.`);
    const unloading = host.unload(drainMs);
    await this.beat();
    await unloading;
    this.hosts.delete(name);
  }

  private unloadIdle(): void {
    for (const host of this.hosts.values()) {
      if (host.idleExpired()) {
        this.o.log.info('unloading idle model', { model: host.name, keepAliveMs: host.status().keepAliveMs });
        this.commands = this.commands.then(() => this.unload(host.name, 0).catch(() => undefined)).then(() => this.beat());
      }
    }
  }

  private async beat(): Promise<void> {
    this.lastBeatAt = Date.now();
    const hb: WorkerHeartbeat = {
      id: this.o.workerId,
      host: hostname(),
      pid: process.pid,
      backend: this.o.backend,
      startedAt: this.startedAt,
      freeMemory: freemem(),
      totalMemory: totalmem(),
      servable: [...this.catalog.keys()],
      models: [...this.hosts.values()].map((h) => h.status()),
    };
    try {
      await writeHeartbeat(this.o.publisher, hb);
    } catch (err) {
      this.o.log.warn('heartbeat failed', { error: (err as Error).message });
    }
  }
}

/** Checks one integer of a load's `args` (text-generation-webui's names). */
export function loadArg(key: keyof LoadArgs, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new CommandError(400, 'invalid_load_args', `'args.${key}' must be an integer from ${min} to ${max}.`);
  }
  return value;
}
