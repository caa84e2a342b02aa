/**
 * What /v1/chat/completions and /v1/completions do alike: resolve the model, build its jobs (local
 * or pass-through), and serve them streamed or whole through the response writer. Each controller
 * supplies its job builder and formatter.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { ModelDescriptor, QueuedJobData } from '@switchyard/contracts';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import type { ResponseFormatter } from './openai-format';
import { serveGeneration } from './response-writer';
import type { SamplingDto } from './sampling.dto';

@Injectable()
export class GenerationEndpoint {
  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  async serve<D extends SamplingDto>(
    dto: D,
    req: Request,
    res: Response,
    o: { jobs: (model: ModelDescriptor, dto: D, raw: unknown) => QueuedJobData[]; formatter: (model: string, includeUsage: boolean) => ResponseFormatter },
  ): Promise<void> {
    const model = this.catalog.require(dto.model);
    await serveGeneration({
      req,
      res,
      inference: this.inference,
      stallMs: this.env.STREAM_STALL_MS,
      keepAliveMs: this.env.SSE_KEEPALIVE_MS,
      model,
      jobs: o.jobs(model, dto, req.body),
      stream: dto.stream === true,
      includeUsage: dto.stream_options?.include_usage === true,
      formatter: (includeUsage) => o.formatter(model.name, includeUsage),
    });
  }
}
