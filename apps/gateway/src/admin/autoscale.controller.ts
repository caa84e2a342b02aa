/**
 * `GET /admin/autoscale[?model=NAME]` (admin key): each model's exact queue depth for an autoscaler,
 * read from Redis at request time. KEDA's metrics-api scaler reads `depth` of one model
 * (`valueLocation: depth`, bearer auth); without `model` the list of every model the gateway knows.
 */
import { Controller, Get, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Admin } from '../core/api-key.guard';
import { ModelCatalogService } from '../core/model-catalog.service';
import { OpenAIError } from '../core/openai-error';
import { ApiDoc } from '../docs/api-doc.decorator';
import { AutoscaleService, type AutoscaleDepth } from './autoscale.service';

@ApiTags('admin')
@Admin()
@Controller()
export class AutoscaleController {
  constructor(
    private readonly catalog: ModelCatalogService,
    private readonly autoscale: AutoscaleService,
  ) {}

  /**
   * `depth` = waiting + prioritized + active + delayed + awaiting_worker: every job that needs or
   * holds a worker, including requests waiting (up to WORKER_WAIT_MS) for a model nobody serves yet.
   */
  @ApiDoc({
    summary: "A model's queue depth for autoscaling (KEDA metrics-api)",
    returns: 'One `autoscale.depth` object for `model` (an alias resolves to its model), or a list of one per model without it.',
  })
  @Get('admin/autoscale')
  async depth(@Query('model') model?: string): Promise<AutoscaleDepth | { object: 'list'; data: AutoscaleDepth[] }> {
    if (model === undefined) return { object: 'list', data: await this.autoscale.depths(this.catalog.models) };
    // `?model=a&model=b` arrives as an array: one model a request.
    if (typeof model !== 'string') throw OpenAIError.badRequest('Give one model.', 'model', 'invalid_value');
    const [one] = await this.autoscale.depths([this.catalog.require(model)]);
    return one;
  }
}
