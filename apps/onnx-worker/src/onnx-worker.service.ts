/**
 * The onnx worker's lifecycle: loads the ONNX models it serves (those marked `preload`) through
 * transformers.js on onnxruntime-node, takes load and unload commands on its control channel,
 * unloads models idle past their keep-alive, announces itself with heartbeats (backend 'onnx', so
 * /v1/models lists what it holds), and on shutdown drains and frees everything.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freemem, hostname, totalmem } from 'node:os';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TTL_SECONDS,
  WORKERS_SET_KEY,
  controlReplyChannel,
  workerControlChannel,
  workerHeartbeatKey,
  type ControlCommand,
  type ControlReply,
  type LoadArgs,
  type ModelDescriptor,
  type OnnxModelDescriptor,
  type WorkerHeartbeat,
} from '@switchyard/contracts';
import { createRedis, loadModelsFile, Logger, splitList } from '@switchyard/runtime';
import { OnnxModelHost, type OnnxModelHostDeps } from './onnx-model-host';
import { importTransformers } from './transformers';
import { ONNX_WORKER_ENV, type OnnxWorkerEnv } from './worker-config';

/** A refused command, with the HTTP status and code the gateway should answer. */
class CommandError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const IDLE_CHECK_MS = 1000;

const isOnnx = (m: ModelDescriptor): m is OnnxModelDescriptor => m.backend === 'onnx';

@Injectable()
export class OnnxWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly workerId: string;
  private readonly log = new Logger('onnx-worker');
  private readonly hosts = new Map<string, OnnxModelHost>();
  private catalog = new Map<string, OnnxModelDescriptor>();
  private deps: OnnxModelHostDeps | undefined;
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;
  private timers: NodeJS.Timeout[] = [];
  private commands: Promise<unknown> = Promise.resolve();
  private readonly startedAt = Date.now();

  constructor(@Inject(ONNX_WORKER_ENV) private readonly env: OnnxWorkerEnv) {
    this.workerId = env.WORKER_ID ?? `${hostname()}-onnx-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const wanted = new Set(splitList(this.env.WORKER_MODELS));
    const models = loadModelsFile(this.env.MODELS_FILE).filter((m): m is OnnxModelDescriptor => isOnnx(m) && (wanted.size === 0 || wanted.has(m.name)));
    for (const name of wanted) {
      if (!models.some((m) => m.name === name)) throw new Error(`WORKER_MODELS names '${name}', which the models file lacks as an onnx model`);
    }
    this.catalog = new Map(models.map((m) => [m.name, m]));
    this.publisher = createRedis(this.env.REDIS_URL, `switchyard-onnx-pub-${this.workerId}`);
    this.subscriber = createRedis(this.env.REDIS_URL, `switchyard-onnx-sub-${this.workerId}`);
    const lib = await importTransformers();
    this.deps = {
      lib,
      device: this.env.ONNX_DEVICE === 'cuda' ? 'cuda' : 'cpu',
      redisUrl: this.env.REDIS_URL,
      publisher: this.publisher,
      workerId: this.workerId,
      logger: this.log,
    };
    this.log.info('onnx runtime ready', { workerId: this.workerId, device: this.deps.device, models: models.map((m) => m.name) });
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === workerControlChannel(this.workerId)) this.onCommand(message);
    });
    await this.subscriber.subscribe(workerControlChannel(this.workerId));
    await this.beat();
    this.timers.push(setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS));
    this.timers.push(setInterval(() => this.unloadIdle(), IDLE_CHECK_MS));
    for (const descriptor of models.filter((m) => m.preload)) {
      await this.load(descriptor.name, {}).catch((err: Error) => this.log.warn('not serving a model', { model: descriptor.name, error: err.message }));
    }
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
      if (cmd.op === 'load') await this.load(cmd.model, cmd.args);
      else await this.unload(cmd.model, cmd.drainMs);
      reply = { requestId: cmd.requestId, ok: true, model: cmd.model, ms: Date.now() - started };
    } catch (err) {
      const e = err instanceof CommandError ? err : new CommandError(500, 'load_failed', `Loading failed: ${(err as Error).message}`);
      reply = { requestId: cmd.requestId, ok: false, model: cmd.model, status: e.status, code: e.code, message: e.message };
    }
    await this.beat();
    await this.publisher?.publish(controlReplyChannel(cmd.requestId), JSON.stringify(reply)).catch(() => undefined);
  }

  private async load(name: string, args: LoadArgs): Promise<void> {
    const base = this.catalog.get(name);
    if (!base) throw new CommandError(404, 'model_not_found', `This worker cannot serve '${name}'.`);
    const existing = this.hosts.get(name);
    if (existing && existing.currentState !== 'failed') return;
    const descriptor = applyArgs(base, args);
    const file = join(descriptor.path, descriptor.file);
    if (!existsSync(file)) throw new CommandError(400, 'model_file_missing', `The model file for '${name}' does not exist: ${file}`);
    const host = new OnnxModelHost(descriptor, this.deps!);
    this.hosts.set(name, host);
    await this.beat();
    try {
      await host.load();
    } catch (err) {
      this.hosts.delete(name);
      throw new CommandError(400, 'load_failed', `'${name}' failed to load: ${(err as Error).message}`);
    } finally {
      await this.beat();
    }
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
        this.log.info('unloading idle model', { model: host.name });
        this.commands = this.commands.then(() => this.unload(host.name, 0).catch(() => undefined)).then(() => this.beat());
      }
    }
  }

  private async beat(): Promise<void> {
    if (!this.publisher) return;
    const hb: WorkerHeartbeat = {
      id: this.workerId,
      host: hostname(),
      pid: process.pid,
      backend: 'onnx',
      startedAt: this.startedAt,
      freeMemory: freemem(),
      totalMemory: totalmem(),
      servable: [...this.catalog.keys()],
      models: [...this.hosts.values()].map((h) => h.status()),
    };
    try {
      await this.publisher
        .multi()
        .set(workerHeartbeatKey(this.workerId), JSON.stringify(hb), 'EX', HEARTBEAT_TTL_SECONDS)
        .sadd(WORKERS_SET_KEY, this.workerId)
        .exec();
    } catch (err) {
      this.log.warn('heartbeat failed', { error: (err as Error).message });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.subscriber?.unsubscribe(workerControlChannel(this.workerId)).catch(() => undefined);
    await Promise.all([...this.hosts.values()].map((h) => h.unload(this.env.SHUTDOWN_DRAIN_MS)));
    this.hosts.clear();
    try {
      await this.publisher?.multi().del(workerHeartbeatKey(this.workerId)).srem(WORKERS_SET_KEY, this.workerId).exec();
    } catch {
      // Redis gone: the heartbeat key expires on its own.
    }
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
  }
}

/** Load-time overrides from the admin API (text-generation-webui's `args` names). */
function applyArgs(base: OnnxModelDescriptor, args: LoadArgs): OnnxModelDescriptor {
  const check = (key: keyof LoadArgs, value: unknown, min: number, max: number): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new CommandError(400, 'invalid_load_args', `'args.${key}' must be an integer from ${min} to ${max}.`);
    }
    return value;
  };
  if (args.gpu_layers !== undefined) throw new CommandError(400, 'invalid_load_args', "'args.gpu_layers' does not apply to onnx models.");
  return {
    ...base,
    contextSize: check('ctx_size', args.ctx_size, 2, 1 << 20) ?? base.contextSize,
    parallel: check('parallel', args.parallel, 1, 1024) ?? base.parallel,
    threads: check('threads', args.threads, 1, 1024) ?? base.threads,
  };
}
