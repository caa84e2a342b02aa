/**
 * POST /v1/completions (legacy text completions).
 */
import { Body, Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CreateCompletionDto } from './create-completion.dto';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import { CompletionFormatter } from './openai-format';
import { serveGeneration } from './response-writer';
import { completionJobsFor } from './upstream-job-builder';

@Controller('v1/completions')
export class CompletionsController {
  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  @Post()
  @HttpCode(200)
  async create(@Body() dto: CreateCompletionDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const model = this.catalog.require(dto.model);
    await serveGeneration({
      req,
      res,
      inference: this.inference,
      stallMs: this.env.STREAM_STALL_MS,
      model,
      jobs: completionJobsFor(model, dto, req.body),
      stream: dto.stream === true,
      includeUsage: dto.stream_options?.include_usage === true,
      formatter: (includeUsage) => new CompletionFormatter(model.name, includeUsage, dto.logprobs != null),
    });
  }
}
