/**
 * METRICS_PORT: `/metrics` (and nothing else) without a key, on a port of its own bound to HOST, so
 * a Prometheus inside the cluster scrapes without an admin key while the public port keeps
 * needing one. Plain node:http; started once the app is up, closed on shutdown.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import { Logger } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { GatewayMetrics } from './metrics.service';

@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: Server | undefined;
  private readonly log = new Logger('gateway.metrics');

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly metrics: GatewayMetrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const port = this.env.METRICS_PORT;
    if (port === undefined || !this.metrics.enabled) return;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Only GET /metrics is served on this port.', type: 'invalid_request_error', param: null, code: 'unknown_url' } }));
        return;
      }
      this.metrics.render().then(
        (text) => {
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          this.log.warn('metrics scrape failed', { error: err.message });
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'Collecting metrics failed.', type: 'server_error', param: null, code: 'internal_error' } }));
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.env.HOST, () => resolve());
    });
    this.server = server;
    this.log.info('metrics listening', { port, host: this.env.HOST });
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
