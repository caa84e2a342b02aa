/**
 * A worker's small HTTP port (WORKER_HTTP_PORT; none when unset): `/health/live` (the process
 * answers), `/health/ready` (Redis answers and the worker's preloaded models are loaded, 503 with
 * the reasons otherwise) for compose and Kubernetes probes, and `/metrics` for Prometheus. Plain
 * node:http: a worker has no other HTTP API, and a probe must not depend on a framework's start-up.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Redis from 'ioredis';
import type { Logger } from './logger';
import type { WorkerMetrics } from './worker-metrics';

/** A Redis that is connected but does not answer counts as down past this (a probe's own timeout is longer). */
const PING_TIMEOUT_MS = 1000;

export interface WorkerHttpOptions {
  port: number;
  host: string;
  /** The worker's command connection: readiness pings it. */
  redis: Redis;
  /** Why the worker is not ready yet, apart from Redis (empty: ready). */
  notReady(): string[];
  /** Absent: `/metrics` answers 404 (METRICS=off). */
  metrics?: WorkerMetrics;
  log: Logger;
}

export class WorkerHttp {
  private constructor(private readonly server: Server) {}

  static async start(o: WorkerHttpOptions): Promise<WorkerHttp> {
    const server = createServer((req, res) => void handle(o, req, res));
    // Probes hold no connection open between checks; a scraper's keep-alive one must not stall shutdown.
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    o.log.info('worker http listening', { port: (server.address() as AddressInfo).port, host: o.host });
    return new WorkerHttp(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function handle(o: WorkerHttpOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: { message: 'Only GET is served here.', type: 'invalid_request_error', param: null, code: 'method_not_allowed' } });
    if (path === '/health/live') return send(res, 200, { status: 'ok' });
    if (path === '/health/ready') {
      const reasons = (await redisAnswers(o.redis)) ? o.notReady() : ['Redis is unreachable', ...o.notReady()];
      if (reasons.length === 0) return send(res, 200, { status: 'ok' });
      return send(res, 503, { error: { message: `Not ready: ${reasons.join('; ')}.`, type: 'server_error', param: null, code: 'not_ready' }, reasons });
    }
    if (path === '/metrics' && o.metrics) {
      const text = await o.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
      res.end(text);
      return;
    }
    send(res, 404, { error: { message: `Unknown request URL: ${req.method} ${path}.`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
  } catch (err) {
    o.log.warn('worker http request failed', { path, error: (err as Error).message });
    if (!res.headersSent) send(res, 500, { error: { message: 'The worker had an error while answering.', type: 'server_error', param: null, code: 'internal_error' } });
  }
}

function send(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** True when Redis answers a PING in time; never waits in ioredis's offline queue. */
async function redisAnswers(redis: Redis): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      redis.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
