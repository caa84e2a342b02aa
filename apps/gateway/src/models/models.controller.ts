/**
 * GET /v1/models and /v1/models/{id}: what is servable now (loaded somewhere, or configured and
 * loadable on demand by a live worker), in OpenAI's shapes plus Switchyard's extras.
 */
import { Controller, Get, Param } from '@nestjs/common';
import { fleetModels, toOpenAIModel, type FleetModel, type ModelObject } from './fleet-view';
import { ModelCatalogService } from '../core/model-catalog.service';
import { OpenAIError } from '../core/openai-error';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { WorkerRegistry } from '../core/worker-registry.service';

@ApiTags('models')
@Controller('v1/models')
export class ModelsController {
  constructor(
    private readonly catalog: ModelCatalogService,
    private readonly registry: WorkerRegistry,
  ) {}

  private async servable(): Promise<FleetModel[]> {
    return fleetModels(this.catalog.models, await this.registry.workers()).filter((m) => m.state !== 'unavailable');
  }

  @ApiDoc({ id: 'listModels', summary: 'List the servable models', returns: 'A list of model objects.' })
  @Get()
  async list(): Promise<{ object: 'list'; data: ModelObject[] }> {
    return { object: 'list', data: (await this.servable()).map((m) => toOpenAIModel(m)) };
  }

  @ApiDoc({ id: 'retrieveModel', summary: 'Retrieve a model (by name or alias)', returns: 'A model object.' })
  @Get(':id')
  async get(@Param('id') id: string): Promise<ModelObject> {
    const d = this.catalog.find(id);
    const m = d && (await this.servable()).find((x) => x.descriptor.name === d.name);
    if (!m) throw OpenAIError.modelNotFound(id);
    return toOpenAIModel(m, id);
  }
}
