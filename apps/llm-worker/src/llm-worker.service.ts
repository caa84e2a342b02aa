/**
 * The llm worker's lifecycle: loads the models it serves at start (those marked `preload`), takes
 * load and unload commands on its control channel, unloads models idle past their keep-alive,
 * announces itself with heartbeats, and on shutdown stops taking jobs, drains running ones for a
 * bounded time and frees every native resource.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { existsSync, statSync } from 'node:fs';
import { freemem, hostname, totalmem } from 'node:os';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import {
  HEARTBEAT_INTERVAL_MS,
  controlReplyChannel,
  workerControlChannel,
  type ControlCommand,
  type ControlReply,
  type LlamaCppModelDescriptor,
  type LoadArgs,
  type WorkerHeartbeat,
} from '@switchyard/contracts';
import { CancelListener, createRedis, loadModelsFile, Logger, removeHeartbeat, splitList, writeHeartbeat } from '@switchyard/runtime';
import { ModelHost, type ModelHostDeps } from './model-host';
import { importNodeLlamaCpp } from './node-llama-cpp';
import { LLM_WORKER_ENV, type LlmWorkerEnv } from './worker-config';

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
/** Rough KV-cache and compute-buffer overhead on top of the weights, for the memory check. */
const LOAD_OVERHEAD = 1.2;

@Injectable()
export class LlmWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly workerId: string;
  private readonly log = new Logger('llm-worker');
  private readonly hosts = new Map<string, ModelHost>();
  private catalog = new Map<string, LlamaCppModelDescriptor>();
  private deps: ModelHostDeps | undefined;
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;
  private timers: NodeJS.Timeout[] = [];
  private commands: Promise<unknown> = Promise.resolve();
  private readonly startedAt = Date.now();

  constructor(@Inject(LLM_WORKER_ENV) private readonly env: LlmWorkerEnv) {
    this.workerId = env.WORKER_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const wanted = new Set(splitList(this.env.WORKER_MODELS));
    const models = loadModelsFile(this.env.MODELS_FILE).filter(
      (m): m is LlamaCppModelDescriptor => m.backend === 'llama.cpp' && (wanted.size === 0 || wanted.has(m.name)),
    );
    for (const name of wanted) {
      if (!models.some((m) => m.name === name)) throw new Error(`WORKER_MODELS names '${name}', which the models file lacks`);
    }
    this.catalog = new Map(models.map((m) => [m.name, m]));
    this.publisher = createRedis(this.env.REDIS_URL, `switchyard-llm-pub-${this.workerId}`);
    this.subscriber = createRedis(this.env.REDIS_URL, `switchyard-llm-sub-${this.workerId}`);
    const lib = await importNodeLlamaCpp();
    const gpu = this.env.LLAMA_GPU === 'false' ? false : this.env.LLAMA_GPU;
    // Never compile llama.cpp at run time: prebuilt binaries only.
    const llama = await lib.getLlama({ build: 'never', gpu: gpu as 'auto', logLevel: lib.LlamaLogLevel.error });
    this.log.info('llama.cpp ready', { workerId: this.workerId, gpu: llama.gpu, models: models.map((m) => m.name) });
    const cancels = new CancelListener(this.subscriber);
    await cancels.start();
    this.deps = { lib, llama, redisUrl: this.env.REDIS_URL, publisher: this.publisher, cancels, workerId: this.workerId, logger: this.log };
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === workerControlChannel(this.workerId)) this.onCommand(message);
    });
    await this.subscriber.subscribe(workerControlChannel(this.workerId));
    await this.beat();
    this.timers.push(setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS));
    this.timers.push(setInterval(() => this.unloadIdle(), IDLE_CHECK_MS));
    for (const descriptor of models.filter((m) => m.preload)) {
      if (!existsSync(descriptor.path)) {
        this.log.warn('model file missing; not serving it', { model: descriptor.name, path: descriptor.path });
        continue;
      }
      await this.load(descriptor.name, {}).catch(() => undefined);
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
    if (!existsSync(descriptor.path)) {
      throw new CommandError(400, 'model_file_missing', `The model file for '${name}' does not exist: ${descriptor.path}`);
    }
    const need = statSync(descriptor.path).size * LOAD_OVERHEAD;
    if (need > freemem()) {
      throw new CommandError(
        507,
        'insufficient_memory',
        `Not enough memory to load '${name}': needs about ${mib(need)} MiB, ${mib(freemem())} MiB free.`,
      );
    }
    const host = new ModelHost(descriptor, this.deps!);
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
        this.log.info('unloading idle model', { model: host.name, keepAliveMs: host.status().keepAliveMs });
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
      backend: 'llama.cpp',
      startedAt: this.startedAt,
      freeMemory: freemem(),
      totalMemory: totalmem(),
      servable: [...this.catalog.keys()],
      models: [...this.hosts.values()].map((h) => h.status()),
    };
    try {
      await writeHeartbeat(this.publisher, hb);
    } catch (err) {
      this.log.warn('heartbeat failed', { error: (err as Error).message });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.subscriber?.unsubscribe(workerControlChannel(this.workerId)).catch(() => undefined);
    // Stop taking jobs everywhere at once; running ones get the drain window, then are aborted.
    await Promise.all([...this.hosts.values()].map((h) => h.unload(this.env.SHUTDOWN_DRAIN_MS)));
    this.hosts.clear();
    if (this.publisher) await removeHeartbeat(this.publisher, this.workerId);
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
    await this.deps?.llama.dispose();
  }
}

function applyArgs(base: LlamaCppModelDescriptor, args: LoadArgs): LlamaCppModelDescriptor {
  const check = (key: keyof LoadArgs, value: unknown, min: number, max: number): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new CommandError(400, 'invalid_load_args', `'args.${key}' must be an integer from ${min} to ${max}.`);
    }
    return value;
  };
  const gpu = args.gpu_layers;
  if (gpu !== undefined && gpu !== 'auto' && gpu !== 'max') check('gpu_layers', gpu, 0, 100_000);
  return {
    ...base,
    contextSize: check('ctx_size', args.ctx_size, 16, 1 << 20) ?? base.contextSize,
    parallel: check('parallel', args.parallel, 1, 256) ?? base.parallel,
    threads: check('threads', args.threads, 1, 1024) ?? base.threads,
    gpuLayers: gpu ?? base.gpuLayers,
  };
}

function mib(bytes: number): number {
  return Math.round(bytes / 1048576);
}
