/**
 * POST /v1/chat/completions.
 */
import { Body, Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CreateChatCompletionDto } from './create-chat-completion.dto';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import { ChatFormatter } from './openai-format';
import { serveGeneration } from './response-writer';
import { chatJobsFor } from './upstream-job-builder';

@Controller('v1/chat/completions')
export class ChatCompletionsController {
  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  @Post()
  @HttpCode(200)
  async create(@Body() dto: CreateChatCompletionDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const model = this.catalog.require(dto.model);
    await serveGeneration({
      req,
      res,
      inference: this.inference,
      stallMs: this.env.STREAM_STALL_MS,
      model,
      jobs: chatJobsFor(model, dto, req.body),
      stream: dto.stream === true,
      includeUsage: dto.stream_options?.include_usage === true,
      formatter: (includeUsage) => new ChatFormatter(model.name, includeUsage, dto.logprobs === true),
    });
  }
}
