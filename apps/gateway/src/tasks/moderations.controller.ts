/**
 * POST /v1/moderations: a text classifier's label scores mapped to OpenAI's categories (the models
 * file's `categories`).
 */
import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CreateModerationDto, isTextPart } from './create-moderation.dto';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import { OpenAIError } from '../core/openai-error';
import { clientGone, setWorkerHeader } from '../chat/response-writer';
import { moderationResponse } from './task-format';
import { requireTaskModel } from '../core/task-models';

@ApiTags('moderations')
@Controller('v1/moderations')
export class ModerationsController {
  constructor(
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  @ApiDoc({ id: 'createModeration', summary: 'Classify text for moderation', returns: 'A moderation result per input.' })
  @Post()
  @HttpCode(200)
  async create(@Body() dto: CreateModerationDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<object> {
    const model = requireTaskModel(this.catalog, dto.model, 'classifier');
    const inputs = textInputs(dto.input);
    const { result, workerId } = await this.inference.runTask(
      model,
      { kind: 'classify', model: model.name, inputs, truncate: dto.truncate === true, enqueuedAt: Date.now() },
      clientGone(req, res).signal,
    );
    if (result.kind !== 'classify') throw new Error(`expected a classify result, got ${result.kind}`);
    setWorkerHeader(res, workerId);
    return moderationResponse(model, result);
  }
}

/** Strings as they are; multi-modal parts: one input of all text parts joined (OpenAI scores them together). */
function textInputs(input: CreateModerationDto['input']): string[] {
  if (typeof input === 'string') return [input];
  if (input.every((x): x is string => typeof x === 'string')) return input;
  const parts = input as unknown[];
  const bad = parts.findIndex((p) => !isTextPart(p));
  if (bad >= 0) {
    throw OpenAIError.badRequest(
      `Invalid 'input[${bad}]': only {"type": "text", "text": ...} parts are supported; the moderation models served here read text only.`,
      `input[${bad}]`,
      'unsupported_input_type',
    );
  }
  return [parts.filter(isTextPart).map((p) => p.text).join('\n')];
}
