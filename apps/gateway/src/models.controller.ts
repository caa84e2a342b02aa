/**
 * GET /v1/models and /v1/models/{id}, in OpenAI's shapes, plus Switchyard's extras.
 */
import { Controller, Get, Param } from '@nestjs/common';
import type { ModelDescriptor } from '@switchyard/contracts';
import { ModelCatalogService } from './model-catalog.service';
import { OpenAIError } from './openai-error';

function toModel(m: ModelDescriptor, id = m.name): object {
  return {
    id,
    object: 'model',
    created: m.created,
    owned_by: m.ownedBy,
    // Extras (OpenAI clients ignore unknown fields).
    backend: m.backend,
    context_length: m.contextSize,
    aliases: m.aliases,
  };
}

@Controller('v1/models')
export class ModelsController {
  constructor(private readonly catalog: ModelCatalogService) {}

  @Get()
  list(): object {
    return { object: 'list', data: this.catalog.models.map((m) => toModel(m)) };
  }

  @Get(':id')
  get(@Param('id') id: string): object {
    const m = this.catalog.find(id);
    if (!m) throw OpenAIError.modelNotFound(id);
    return toModel(m, id);
  }
}
