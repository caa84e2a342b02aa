/**
 * The models the gateway knows, from the models file; resolves names and aliases.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { ModelDescriptor } from '@switchyard/contracts';
import { loadModelsFile, ModelCatalog } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';
import { OpenAIError } from './openai-error';

@Injectable()
export class ModelCatalogService {
  private readonly catalog: ModelCatalog;

  constructor(@Inject(GATEWAY_ENV) env: GatewayEnv) {
    this.catalog = new ModelCatalog(loadModelsFile(env.MODELS_FILE));
  }

  get models(): readonly ModelDescriptor[] {
    return this.catalog.models;
  }

  find(id: string): ModelDescriptor | undefined {
    return this.catalog.resolve(id);
  }

  /** The model, or OpenAI's 404 `model_not_found`. */
  require(id: string): ModelDescriptor {
    const m = this.catalog.resolve(id);
    if (!m) throw OpenAIError.modelNotFound(id);
    return m;
  }
}
