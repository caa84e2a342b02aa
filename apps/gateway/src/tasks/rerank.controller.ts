/**
 * POST /v1/rerank, /rerank and /v1/reranking (llama.cpp server's paths): documents scored against a
 * query by a cross-encoder, best first.
 */
import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { RerankDto } from './rerank.dto';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import { clientGone, setWorkerHeader } from '../chat/response-writer';
import { rerankResponse } from './task-format';
import { requireTaskModel } from '../core/task-models';

@ApiTags('rerank')
@Controller()
export class RerankController {
  constructor(
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  @ApiDoc({ id: 'rerank', summary: 'Rerank documents against a query', returns: 'The documents with relevance scores, best first.' })
  @Post(['v1/rerank', 'rerank', 'v1/reranking', 'reranking'])
  @HttpCode(200)
  async rerank(@Body() dto: RerankDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<object> {
    const model = requireTaskModel(this.catalog, dto.model, 'reranker');
    const documents = dto.documents.map((d) => (typeof d === 'string' ? d : d.text));
    const { result, workerId } = await this.inference.runTask(
      model,
      { kind: 'rerank', model: model.name, query: dto.query, documents, truncate: dto.truncate === true, enqueuedAt: Date.now() },
      clientGone(req, res).signal,
    );
    if (result.kind !== 'rerank') throw new Error(`expected a rerank result, got ${result.kind}`);
    setWorkerHeader(res, workerId);
    return rerankResponse(dto.model ?? model.name, result, documents, {
      topN: dto.top_n ?? undefined,
      returnDocuments: dto.return_documents ?? true,
    });
  }
}
