/**
 * Prometheus metrics of the gateway: the request observer (a middleware on every route), the fleet
 * and queue gauges read at scrape time, `GET /metrics`, and the optional METRICS_PORT server.
 * With METRICS=off the middleware is not installed, so a request pays nothing for metrics.
 */
import { Inject, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { FleetMetrics } from './fleet-metrics';
import { MetricsController } from './metrics.controller';
import { MetricsMiddleware } from './metrics.middleware';
import { MetricsServer } from './metrics-server';
import { GatewayMetrics } from './metrics.service';

@Module({ controllers: [MetricsController], providers: [FleetMetrics, GatewayMetrics, MetricsServer] })
export class MetricsModule implements NestModule {
  constructor(@Inject(GATEWAY_ENV) private readonly env: GatewayEnv) {}

  configure(consumer: MiddlewareConsumer): void {
    if (this.env.METRICS !== 'off') consumer.apply(MetricsMiddleware).forRoutes('*');
  }
}
