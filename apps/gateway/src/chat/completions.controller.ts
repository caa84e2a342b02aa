/**
 * POST /v1/completions (legacy text completions).
 */
import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CreateCompletionDto } from './create-completion.dto';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { GenerationEndpoint } from './generation-endpoint';
import { CompletionFormatter } from './openai-format';
import { completionJobsFor } from './upstream-job-builder';

@ApiTags('completions')
@Controller('v1/completions')
export class CompletionsController {
  constructor(private readonly endpoint: GenerationEndpoint) {}

  @ApiDoc({ id: 'createCompletion', summary: 'Create a text completion', answer: 'json-or-sse', returns: 'A text_completion, or with `stream: true` its chunks as events.' })
  @Post()
  @HttpCode(200)
  async create(@Body() dto: CreateCompletionDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.endpoint.serve(dto, req, res, {
      jobs: completionJobsFor,
      formatter: (model, includeUsage) => new CompletionFormatter(model, includeUsage, dto.logprobs != null),
    });
  }
}
