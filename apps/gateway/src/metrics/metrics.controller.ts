/**
 * `GET /metrics` in Prometheus' text format. Needs an admin key when keys are configured (open
 * otherwise, like the rest of the API); METRICS_PORT serves the same text without a key on a port
 * of its own, for scrapers inside a cluster (see MetricsServer).
 */
import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Admin } from '../core/api-key.guard';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { OpenAIError } from '../core/openai-error';
import { GatewayMetrics } from './metrics.service';

@ApiTags('metrics')
@Controller()
export class MetricsController {
  constructor(private readonly metrics: GatewayMetrics) {}

  @ApiDoc({ summary: 'Prometheus metrics (admin key)', answer: 'prometheus' })
  @Admin()
  @Get('metrics')
  async scrape(@Res() res: Response): Promise<void> {
    if (!this.metrics.enabled) throw metricsOff();
    const text = await this.metrics.render();
    res.setHeader('content-type', this.metrics.registry.contentType);
    // end(), not send(): Express would add its own charset to Prometheus' content type.
    res.end(text);
  }
}

export function metricsOff(): OpenAIError {
  return new OpenAIError(404, 'Metrics are turned off on this gateway (METRICS=off).', 'invalid_request_error', 'metrics_off');
}
