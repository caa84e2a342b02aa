/**
 * POST /v1/embeddings: text or token-id inputs → vectors, as floats or base64 float32. ONNX and GGUF
 * embedding models run as task jobs; upstream models and runners in front of a local
 * OpenAI-compatible server pass the request through to their /embeddings.
 */
import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CreateEmbeddingDto } from './create-embedding.dto';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import { clientGone, setWorkerHeader } from '../chat/response-writer';
import { embeddingsResponse } from './task-format';
import { passesThrough, upstreamEmbeddings } from '../chat/upstream-job-builder';
import { requireTaskModel } from '../core/task-models';

@ApiTags('embeddings')
@Controller('v1/embeddings')
export class EmbeddingsController {
  constructor(
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  @ApiDoc({ id: 'createEmbedding', summary: 'Create embeddings', returns: 'A list of embedding objects.' })
  @Post()
  @HttpCode(200)
  async create(@Body() dto: CreateEmbeddingDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<object> {
    const configured = dto.model === undefined ? undefined : this.catalog.find(dto.model);
    if (configured && passesThrough(configured)) return upstreamEmbeddings(this.inference, configured, req.body, clientGone(req, res).signal);
    const model = requireTaskModel(this.catalog, dto.model, 'embeddings');
    const input = dto.input;
    // A flat array of numbers is one tokenized input; any other array is a list of inputs.
    const inputs = typeof input === 'string' ? [input] : input.every((x) => typeof x === 'number') ? [input as number[]] : (input as Array<string | number[]>);
    const { result, workerId } = await this.inference.runTask(
      model,
      {
        kind: 'embeddings',
        model: model.name,
        inputs,
        ...(dto.dimensions != null ? { dimensions: dto.dimensions } : {}),
        truncate: dto.truncate === true,
        enqueuedAt: Date.now(),
      },
      clientGone(req, res).signal,
    );
    if (result.kind !== 'embeddings') throw new Error(`expected an embeddings result, got ${result.kind}`);
    setWorkerHeader(res, workerId);
    return embeddingsResponse(dto.model, result, dto.encoding_format ?? 'float');
  }
}
