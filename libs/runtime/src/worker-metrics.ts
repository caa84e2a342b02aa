/**
 * A worker's own Prometheus metrics (prom-client, a registry of its own): jobs by kind, model and
 * outcome, job duration, queue wait (from the gateway's `enqueuedAt` stamp), generated tokens and
 * decode speed, model load times, and slots (busy and in all) read from the hosts at scrape time.
 * Served by WorkerHttp on WORKER_HTTP_PORT. Everything is observed once per job or per load, never
 * per token, so serving pays nothing measurable for it.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Backend, WorkerModelState } from '@switchyard/contracts';

/** How a job ended, as the `outcome` label says it. */
export type JobOutcomeLabel = 'ok' | 'error' | 'aborted';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TOKENS_PER_SECOND = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
const LOAD_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export class WorkerMetrics {
  readonly registry = new Registry();
  private models: () => WorkerModelState[] = () => [];
  private readonly jobs: Counter<'kind' | 'model' | 'outcome'>;
  private readonly jobSeconds: Histogram<'kind' | 'model'>;
  private readonly queueWait: Histogram<'model'>;
  private readonly promptTokens: Counter<'model'>;
  private readonly completionTokens: Counter<'model'>;
  private readonly decodeSpeed: Histogram<'model'>;
  private readonly loadSeconds: Histogram<'model' | 'outcome'>;

  constructor(backend: Backend, workerId: string) {
    this.registry.setDefaultLabels({ worker: workerId, backend });
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.jobs = new Counter({ name: 'switchyard_worker_jobs_total', help: 'Jobs this worker ran, by kind, model and how they ended (ok, error, aborted).', labelNames: ['kind', 'model', 'outcome'], registers });
    this.jobSeconds = new Histogram({ name: 'switchyard_worker_job_duration_seconds', help: 'From taking a job to sending its end.', labelNames: ['kind', 'model'], buckets: SECONDS, registers });
    this.queueWait = new Histogram({ name: 'switchyard_worker_queue_wait_seconds', help: 'From the gateway enqueuing a job to this worker taking it.', labelNames: ['model'], buckets: SECONDS, registers });
    this.promptTokens = new Counter({ name: 'switchyard_worker_prompt_tokens_total', help: 'Prompt tokens of the generations this worker finished.', labelNames: ['model'], registers });
    this.completionTokens = new Counter({ name: 'switchyard_worker_generated_tokens_total', help: 'Tokens this worker generated (finished generations).', labelNames: ['model'], registers });
    this.decodeSpeed = new Histogram({ name: 'switchyard_worker_generation_tokens_per_second', help: 'Decode speed of each generation: tokens after the first over the time after the first.', labelNames: ['model'], buckets: TOKENS_PER_SECOND, registers });
    this.loadSeconds = new Histogram({ name: 'switchyard_worker_model_load_seconds', help: 'Time to load a model (preloads, admin and on-demand loads), by outcome (ok, failed).', labelNames: ['model', 'outcome'], buckets: LOAD_SECONDS, registers });
    const read = (): WorkerModelState[] => this.models();
    new Gauge({
      name: 'switchyard_worker_slots',
      help: 'Parallel slots of each model this worker holds.',
      labelNames: ['model'],
      registers,
      collect(): void {
        this.reset();
        for (const m of read()) this.set({ model: m.name }, m.slots);
      },
    });
    new Gauge({
      name: 'switchyard_worker_slots_busy',
      help: 'Slots running a job now, by model.',
      labelNames: ['model'],
      registers,
      collect(): void {
        this.reset();
        for (const m of read()) this.set({ model: m.name }, m.busy);
      },
    });
    new Gauge({
      name: 'switchyard_worker_model_state',
      help: '1 for each model this worker holds, labelled with its state (loading, ready, unloading, failed).',
      labelNames: ['model', 'state'],
      registers,
      collect(): void {
        this.reset();
        for (const m of read()) this.set({ model: m.name, state: m.state }, 1);
      },
    });
  }

  /** Where the slot and state gauges read the hosted models from at scrape time. */
  watchModels(models: () => WorkerModelState[]): void {
    this.models = models;
  }

  /** A job was taken: how long it waited in its queue (jobs from older gateways carry no stamp). */
  jobTaken(model: string, enqueuedAt: number | undefined): void {
    if (typeof enqueuedAt === 'number' && enqueuedAt > 0) this.queueWait.observe({ model }, Math.max(0, Date.now() - enqueuedAt) / 1000);
  }

  /**
   * A job ended. `firstTokenAt` (performance.now() of its first delta) and `usage` come with
   * generations; the decode speed needs at least two tokens.
   */
  jobEnded(o: { kind: string; model: string; outcome: JobOutcomeLabel; startedAt: number; firstTokenAt?: number; usage?: { promptTokens: number; completionTokens: number } }): void {
    const now = performance.now();
    this.jobs.inc({ kind: o.kind, model: o.model, outcome: o.outcome });
    this.jobSeconds.observe({ kind: o.kind, model: o.model }, (now - o.startedAt) / 1000);
    if (!o.usage) return;
    this.promptTokens.inc({ model: o.model }, o.usage.promptTokens);
    this.completionTokens.inc({ model: o.model }, o.usage.completionTokens);
    const decodeMs = o.firstTokenAt === undefined ? 0 : now - o.firstTokenAt;
    if (o.usage.completionTokens > 1 && decodeMs > 0) this.decodeSpeed.observe({ model: o.model }, ((o.usage.completionTokens - 1) * 1000) / decodeMs);
  }

  modelLoaded(model: string, seconds: number, ok: boolean): void {
    this.loadSeconds.observe({ model, outcome: ok ? 'ok' : 'failed' }, seconds);
  }
}
