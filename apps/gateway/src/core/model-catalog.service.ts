/**
 * The models the gateway knows: those of the models file, plus the models remote runners registered
 * (read from runner heartbeats, refreshed every second, and at once for runners connected to this
 * gateway); resolves names and aliases.
 */
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { isRunnerHeartbeat, type ModelDescriptor, type RunnerModelDescriptor } from '@switchyard/contracts';
import { loadModelsFile, ModelCatalog } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';
import { OpenAIError } from './openai-error';
import { WorkerRegistry } from './worker-registry.service';

const RUNNER_REFRESH_MS = 1000;
const DEPARTED_MS = 30_000;

@Injectable()
export class ModelCatalogService implements OnModuleInit, OnApplicationShutdown {
  private readonly catalog: ModelCatalog;
  /** Runner models seen in heartbeats, and those of runners connected here (by runner id). */
  private remote = new Map<string, RunnerModelDescriptor>();
  private readonly local = new Map<string, RunnerModelDescriptor[]>();
  /** Runners that left this gateway, until their last heartbeat is surely gone (deleted or expired). */
  private readonly departed = new Map<string, number>();
  /** Bumped when a runner leaves, so a refresh that read heartbeats before that is discarded. */
  private epoch = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    private readonly registry: WorkerRegistry,
  ) {
    this.catalog = new ModelCatalog(loadModelsFile(env.MODELS_FILE));
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.refreshRunners(), RUNNER_REFRESH_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async refreshRunners(): Promise<void> {
    const epoch = this.epoch;
    try {
      const next = new Map<string, RunnerModelDescriptor>();
      const now = Date.now();
      for (const [id, at] of this.departed) if (now - at > DEPARTED_MS) this.departed.delete(id);
      for (const hb of await this.registry.workers(true)) {
        if (!isRunnerHeartbeat(hb) || this.departed.has(hb.id)) continue;
        for (const m of hb.runnerModels) if (!this.catalog.resolve(m.name)) next.set(m.name, m);
      }
      if (epoch === this.epoch) this.remote = next;
    } catch {
      // Redis briefly unavailable: keep the last view.
    }
  }

  private runnerModels(): Map<string, RunnerModelDescriptor> {
    const all = new Map(this.remote);
    for (const list of this.local.values()) for (const m of list) all.set(m.name, m);
    return all;
  }

  /** A runner connected to this gateway registered these models (visible here before its first heartbeat is read). */
  addRunner(runnerId: string, models: RunnerModelDescriptor[]): void {
    this.local.set(runnerId, models);
  }

  /** The runner left: its models go at once (other runners serving the same names keep them). */
  removeRunner(runnerId: string): void {
    const gone = new Set((this.local.get(runnerId) ?? []).map((m) => m.name));
    this.local.delete(runnerId);
    this.departed.set(runnerId, Date.now());
    this.epoch++;
    for (const name of gone) this.remote.delete(name);
    void this.refreshRunners();
  }

  /** Models of the models file only (names a runner may not take). */
  fileModel(id: string): ModelDescriptor | undefined {
    return this.catalog.resolve(id);
  }

  get models(): readonly ModelDescriptor[] {
    return [...this.catalog.models, ...this.runnerModels().values()];
  }

  find(id: string): ModelDescriptor | undefined {
    return this.catalog.resolve(id) ?? this.runnerModels().get(id);
  }

  /** The model, or OpenAI's 404 `model_not_found`. */
  require(id: string): ModelDescriptor {
    const m = this.find(id);
    if (!m) throw OpenAIError.modelNotFound(id);
    return m;
  }
}
