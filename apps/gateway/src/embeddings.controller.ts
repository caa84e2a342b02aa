/**
 * POST /v1/embeddings for upstream models and runners in front of a local OpenAI-compatible server:
 * the request passes through to the upstream's /embeddings.
 *
 * Merge note: issue 5 adds its own EmbeddingsController in this same file (ONNX task jobs). When the
 * two meet, keep that one and route pass-through models before its model check:
 *   const m = this.catalog.require(dto.model);
 *   if (passesThrough(m)) return upstreamEmbeddings(this.inference, m, req.body, clientGone(req, res).signal);
 */
import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { UpstreamEmbeddingDto } from './dto/upstream-embedding.dto';
import { InferenceService } from './inference.service';
import { ModelCatalogService } from './model-catalog.service';
import { OpenAIError } from './openai-error';
import { clientGone } from './response-writer';
import { passesThrough, upstreamEmbeddings } from './upstream-job-builder';

@Controller('v1/embeddings')
export class EmbeddingsController {
  constructor(
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  @Post()
  @HttpCode(200)
  async create(@Body() dto: UpstreamEmbeddingDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<object> {
    const model = this.catalog.require(dto.model);
    if (!passesThrough(model)) {
      throw OpenAIError.badRequest(`The model '${dto.model}' does not serve embeddings.`, 'model', 'model_not_supported');
    }
    return upstreamEmbeddings(this.inference, model, req.body, clientGone(req, res).signal);
  }
}
