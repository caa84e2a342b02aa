/**
 * The runner's side of the gRPC stream: dials the gateway (TLS when configured), says hello with the
 * token and models, runs the jobs it receives (several at once, up to each model's slots), streams
 * their events back, and stops a job when the gateway cancels it. When the stream breaks it aborts
 * what was running (the gateway has already failed those requests) and reconnects with exponential
 * backoff and jitter; a refusal (wrong token, name conflict) is final.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import {
  Logger,
  RUNNER_CHANNEL_OPTIONS,
  RUNNER_KEEPALIVE_MS,
  RUNNER_SILENCE_LIMIT_MS,
  RunnerRefused,
  runnerService,
  type GatewayMessage,
  type RunnerClientStream,
  type RunnerGatewayClient,
} from '@switchyard/runtime';
import type { RunnerEvent, RunnerModel } from './runner-model';

export interface RunnerConnectionOptions {
  gateway: string;
  token: string;
  name: string;
  tls: boolean;
  caFile?: string;
  models: RunnerModel<{ kind: string }>[];
  log: Logger;
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const VERSION = '1';

export class RunnerConnection {
  private client: RunnerGatewayClient | undefined;
  private stream: RunnerClientStream | undefined;
  private readonly running = new Map<string, AbortController>();
  private readonly models: Map<string, RunnerModel<{ kind: string }>>;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(private readonly options: RunnerConnectionOptions) {
    this.models = new Map(options.models.map((m) => [m.name, m]));
  }

  /** Connects and stays connected until `stop`; rejects with RunnerRefused when the gateway says no. */
  async run(): Promise<void> {
    const { log } = this.options;
    const Service = runnerService();
    const credentials = this.options.tls
      ? grpc.credentials.createSsl(this.options.caFile ? readFileSync(this.options.caFile) : null)
      : grpc.credentials.createInsecure();
    this.client = new Service(this.options.gateway, credentials, RUNNER_CHANNEL_OPTIONS) as unknown as RunnerGatewayClient;
    let backoff = BACKOFF_MIN_MS;
    while (!this.stopping) {
      const welcomed = await this.session();
      if (this.stopping) break;
      if (welcomed) backoff = BACKOFF_MIN_MS;
      const wait = Math.round(backoff * (0.5 + Math.random() / 2));
      log.warn('disconnected from the gateway; reconnecting', { gateway: this.options.gateway, inMs: wait });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    }
    this.client.close();
  }

  /** One connection, until it breaks; true when the gateway accepted the runner. */
  private session(): Promise<boolean> {
    const { log } = this.options;
    return new Promise<boolean>((resolve, reject) => {
      const stream = this.client!.Connect();
      this.stream = stream;
      let welcomed = false;
      let lastHeard = Date.now();
      let settled = false;
      const ping = setInterval(() => {
        if (Date.now() - lastHeard > RUNNER_SILENCE_LIMIT_MS) stream.cancel();
        else stream.write({ kind: 'ping', ping: { at: Date.now() } });
      }, RUNNER_KEEPALIVE_MS);
      const done = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearInterval(ping);
        this.stream = undefined;
        for (const c of this.running.values()) c.abort();
        this.running.clear();
        if (err) reject(err);
        else resolve(welcomed);
      };
      stream.on('data', (msg: GatewayMessage) => {
        lastHeard = Date.now();
        switch (msg.kind) {
          case 'welcome':
            welcomed = true;
            log.info('connected to the gateway', { gateway: this.options.gateway, runnerId: msg.welcome.runner_id, models: msg.welcome.models });
            break;
          case 'refused':
            log.error('the gateway refused this runner', { code: msg.refused.code, message: msg.refused.message });
            done(new RunnerRefused(msg.refused.code, msg.refused.message));
            stream.cancel();
            break;
          case 'job':
            this.startJob(stream, msg.job.job_id, msg.job.model, msg.job.data_json);
            break;
          case 'cancel':
            this.running.get(msg.cancel.job_id)?.abort();
            break;
          case 'pong':
            break;
        }
      });
      stream.on('error', (err: grpc.ServiceError) => {
        if (!settled && err.code !== grpc.status.CANCELLED) log.warn('gateway stream failed', { code: err.code, details: err.details });
        done();
      });
      stream.on('end', () => done());
      stream.write({
        kind: 'hello',
        hello: {
          token: this.options.token,
          runner_name: this.options.name,
          version: VERSION,
          models: [...this.models.values()].map(({ spec }) => ({ name: spec.name, format: spec.format, parallel: spec.parallel, context_size: spec.contextSize })),
        },
      });
    });
  }

  private startJob(stream: RunnerClientStream, jobId: string, model: string, json: string): void {
    const emit = (event: RunnerEvent): void => {
      // Events for a stream that broke are dropped: the gateway already failed that request.
      if (this.stream === stream) stream.write({ kind: 'event', event: { job_id: jobId, event_json: JSON.stringify(event) } });
    };
    const served = this.models.get(model);
    if (!served) {
      emit({ type: 'error', status: 404, errorType: 'invalid_request_error', message: `This runner does not serve '${model}'.`, code: 'model_not_found', param: 'model' });
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(json);
    } catch {
      emit({ type: 'error', status: 500, errorType: 'server_error', message: 'The runner received a malformed job.', code: 'runner_bad_job', param: null });
      return;
    }
    const abort = new AbortController();
    this.running.set(jobId, abort);
    served
      .run(jobId, data, abort.signal, emit)
      .catch((err: Error) => {
        this.options.log.error('job failed', { jobId, error: err.stack ?? err.message });
        emit({ type: 'error', status: 500, errorType: 'server_error', message: 'The runner failed while serving this request.', code: 'runner_failed', param: null });
      })
      .finally(() => this.running.delete(jobId));
  }

  get busy(): number {
    return this.running.size;
  }

  /** Stops reconnecting, lets running jobs finish for up to `drainMs`, then closes the stream. */
  async stop(drainMs: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const deadline = Date.now() + drainMs;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const c of this.running.values()) c.abort();
    this.stream?.end();
    this.stream?.cancel();
  }
}
