/**
 * Observes every HTTP request for the metrics: it only hooks the response's `close`, so a request
 * costs one listener and one observation when it is over (a stream: when its last event is written).
 */
import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { GatewayMetrics } from './metrics.service';

@Injectable()
export class MetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: GatewayMetrics) {}

  use(req: Request, res: Response, next: NextFunction): void {
    this.metrics.watch(req, res);
    next();
  }
}
