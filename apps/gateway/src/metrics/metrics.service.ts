/**
 * The gateway's Prometheus metrics (prom-client, a registry of its own, process metrics included):
 * what every HTTP request did, observed once when its response is over (route pattern, status,
 * model, duration, time to first token, tokens, decode speed, rejections by reason), plus the
 * fleet and queue gauges that FleetMetrics reads from Redis at scrape time.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { ModelCatalogService } from '../core/model-catalog.service';
import { ModelControlService } from '../core/model-control.service';
import { requestContextOf } from '../core/request-context';
import { FleetMetrics } from './fleet-metrics';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TOKENS_PER_SECOND = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
const LOAD_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Statuses counted as rejections: the service turned the request away (full queue, nobody serving, Redis down). */
const REJECTED = new Set([429, 503]);

/** The `route` of a request no route matched (a 404): never the raw URL, whose values are unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

/** What Nest's Express router leaves on a request it matched. */
type RoutedRequest = Request & { route?: { path?: unknown } };

@Injectable()
export class GatewayMetrics {
  readonly registry = new Registry();
  /** False with METRICS=off: nothing is observed and /metrics answers 404. */
  readonly enabled: boolean;
  private readonly requests: Counter<'route' | 'method' | 'status' | 'model'>;
  private readonly duration: Histogram<'route' | 'model'>;
  private readonly ttft: Histogram<'model'>;
  private readonly promptTokens: Counter<'model'>;
  private readonly completionTokens: Counter<'model'>;
  private readonly decodeSpeed: Histogram<'model'>;
  private readonly rejected: Counter<'reason' | 'status' | 'model'>;
  private readonly fleet: FleetMetrics;

  constructor(
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    fleet: FleetMetrics,
    control: ModelControlService,
  ) {
    this.enabled = env.METRICS !== 'off';
    this.fleet = fleet;
    if (this.enabled) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.requests = new Counter({ name: 'switchyard_http_requests_total', help: 'HTTP requests answered, by route pattern, method, status and model.', labelNames: ['route', 'method', 'status', 'model'], registers });
    this.duration = new Histogram({ name: 'switchyard_http_request_duration_seconds', help: 'From the request arriving to the end of its response (a stream: its last event).', labelNames: ['route', 'model'], buckets: SECONDS, registers });
    this.ttft = new Histogram({ name: 'switchyard_time_to_first_token_seconds', help: 'From the request arriving to its first generated token or streamed piece.', labelNames: ['model'], buckets: SECONDS, registers });
    this.promptTokens = new Counter({ name: 'switchyard_prompt_tokens_total', help: 'Prompt tokens of answered generations.', labelNames: ['model'], registers });
    this.completionTokens = new Counter({ name: 'switchyard_completion_tokens_total', help: 'Generated tokens of answered generations.', labelNames: ['model'], registers });
    this.decodeSpeed = new Histogram({ name: 'switchyard_generation_tokens_per_second', help: 'Decode speed seen by the client: tokens after the first over the time after the first token.', labelNames: ['model'], buckets: TOKENS_PER_SECOND, registers });
    this.rejected = new Counter({ name: 'switchyard_rejected_requests_total', help: 'Requests turned away with 429 or 503, by reason (the OpenAI error code).', labelNames: ['reason', 'status', 'model'], registers });
    const loads = new Histogram({ name: 'switchyard_model_load_seconds', help: "Loads this gateway commanded (admin API, on demand) that succeeded, by the worker's own time.", labelNames: ['model'], buckets: LOAD_SECONDS, registers });
    control.loadListeners.push((model, ms) => loads.observe({ model }, ms / 1000));
    fleet.register(registers);
  }

  /** Starts watching a request: it is counted once, when its response is over (finished or cut). */
  watch(req: Request, res: Response): void {
    res.once('close', () => this.observe(req, res));
  }

  private observe(req: Request, res: Response): void {
    const ctx = requestContextOf(req);
    const end = performance.now();
    const path = (req as RoutedRequest).route?.path;
    // A catch-all (`/{*path}`, Nest's not-found route) says nothing about the request: unmatched too.
    const route = typeof path === 'string' && !path.includes('*') ? path : UNMATCHED_ROUTE;
    // 499 (nginx's "client closed request"): the client left before the response was complete.
    const status = res.writableFinished ? res.statusCode : 499;
    const model = ctx?.model !== undefined && this.catalog.find(ctx.model) ? ctx.model : '';
    this.requests.inc({ route, method: req.method, status: String(status), model });
    if (REJECTED.has(status)) this.rejected.inc({ reason: ctx?.errorCode ?? 'unknown', status: String(status), model });
    if (!ctx) return;
    this.duration.observe({ route, model }, (end - ctx.startedAt) / 1000);
    if (ctx.firstTokenAt !== undefined) this.ttft.observe({ model }, (ctx.firstTokenAt - ctx.startedAt) / 1000);
    if (ctx.promptTokens !== undefined) this.promptTokens.inc({ model }, ctx.promptTokens);
    if (ctx.completionTokens !== undefined) {
      this.completionTokens.inc({ model }, ctx.completionTokens);
      const decodeMs = ctx.firstTokenAt === undefined ? 0 : end - ctx.firstTokenAt;
      if (ctx.completionTokens > 1 && decodeMs > 0) this.decodeSpeed.observe({ model }, ((ctx.completionTokens - 1) * 1000) / decodeMs);
    }
  }

  /** The exposition text: the fleet and queue gauges are read from Redis first, within a bound. */
  async render(): Promise<string> {
    await this.fleet.refresh();
    return this.registry.metrics();
  }
}
