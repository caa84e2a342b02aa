/**
 * The admin API (admin key only): workers and models, load and unload. Two views of the same
 * operations: a REST one under /admin and text-generation-webui's /v1/internal/model paths.
 */
import { Body, Controller, Get, Header, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Admin } from '../core/api-key.guard';
import { AdminLoadDto, AdminUnloadDto, InternalLoadDto, InternalUnloadDto } from './admin.dto';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { fleetModels } from '../models/fleet-view';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { streamLoad, wantsLoadStream } from './load-stream';
import { ModelCatalogService } from '../core/model-catalog.service';
import { ModelControlService } from '../core/model-control.service';
import { WorkerRegistry } from '../core/worker-registry.service';

@ApiTags('admin')
@Admin()
@Controller()
export class AdminController {
  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly registry: WorkerRegistry,
    private readonly control: ModelControlService,
  ) {}

  @ApiDoc({ summary: 'List the live workers and the models they hold' })
  @Get('admin/workers')
  async workers(): Promise<object> {
    const workers = await this.registry.workers(true);
    return {
      object: 'list',
      data: workers.map((w) => ({
        id: w.id,
        host: w.host,
        pid: w.pid,
        backend: w.backend,
        started_at: Math.floor(w.startedAt / 1000),
        free_memory: w.freeMemory,
        total_memory: w.totalMemory,
        servable: w.servable,
        models: w.models.map((m) => ({
          id: m.name,
          state: m.state,
          slots: m.slots,
          busy: m.busy,
          context_size: m.contextSize,
          threads: m.threads,
          keep_alive_ms: m.keepAliveMs,
          ...(m.error ? { error: m.error } : {}),
          ...(m.state === 'loading' && m.loadProgress !== undefined ? { load_progress: m.loadProgress, load_stage: m.loadStage } : {}),
        })),
      })),
    };
  }

  @ApiDoc({ summary: 'List the configured models and their state' })
  @Get('admin/models')
  async models(): Promise<object> {
    const fleet = fleetModels(this.catalog.models, await this.registry.workers(true));
    return {
      object: 'list',
      data: fleet.map((m) => ({
        id: m.descriptor.name,
        aliases: m.descriptor.aliases,
        backend: m.descriptor.backend,
        state: m.state,
        auto_load: m.descriptor.autoLoad,
        preload: m.descriptor.preload,
        keep_alive_ms: m.descriptor.keepAliveMs,
        ...(m.state === 'loading' ? { load_progress: Math.max(0, ...m.workers.map((w) => w.load_progress ?? 0)) } : {}),
        workers: m.workers,
      })),
    };
  }

  @ApiDoc({ summary: 'Load a model', answer: 'json-or-sse', returns: 'The loaded model; with `Accept: text/event-stream` load progress events first' })
  @Post('admin/models/:id/load')
  @HttpCode(200)
  async load(@Param('id') id: string, @Body() body: AdminLoadDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const model = this.catalog.require(id);
    if (wantsLoadStream(req)) {
      await streamLoad(res, this.control, model, { worker: body.worker, args: body.args, keepAliveMs: this.env.SSE_KEEPALIVE_MS });
      return;
    }
    const result = await this.control.load(model, { worker: body.worker, args: body.args });
    res.status(200).json({ id: result.model, state: 'loaded', worker: result.worker, load_ms: result.ms });
  }

  @ApiDoc({ summary: 'Unload a model' })
  @Post('admin/models/:id/unload')
  @HttpCode(200)
  async unload(@Param('id') id: string, @Body() body: AdminUnloadDto): Promise<object> {
    const workers = await this.control.unload(this.catalog.require(id), { worker: body.worker, drainMs: body.drain_ms });
    return { id: this.catalog.require(id).name, state: 'unloaded', workers };
  }

  @ApiDoc({ summary: 'List the model names (text-generation-webui)' })
  @Get('v1/internal/model/list')
  list(): object {
    return { model_names: this.catalog.models.map((m) => m.name) };
  }

  @ApiDoc({ summary: 'The loaded models (text-generation-webui)' })
  @Get('v1/internal/model/info')
  async info(): Promise<object> {
    const loaded = fleetModels(this.catalog.models, await this.registry.workers(true)).filter((m) => m.state === 'loaded');
    return {
      model_name: loaded[0]?.descriptor.name ?? 'None',
      lora_names: [],
      loader: 'llama.cpp',
      // Switchyard serves several models at once; all of them:
      loaded_models: loaded.map((m) => m.descriptor.name),
    };
  }

  // text-generation-webui answers these with the JSON string "OK".
  @ApiDoc({ summary: 'Load a model (text-generation-webui)', returns: 'The JSON string "OK".' })
  @Post('v1/internal/model/load')
  @HttpCode(200)
  @Header('Content-Type', 'application/json')
  async internalLoad(@Body() body: InternalLoadDto): Promise<string> {
    await this.control.load(this.catalog.require(body.model_name), { args: body.args });
    return JSON.stringify('OK');
  }

  @ApiDoc({ summary: 'Unload one model or all (text-generation-webui)', returns: 'The JSON string "OK".' })
  @Post('v1/internal/model/unload')
  @HttpCode(200)
  @Header('Content-Type', 'application/json')
  async internalUnload(@Body() body: InternalUnloadDto): Promise<string> {
    const models =
      body.model_name !== undefined
        ? [this.catalog.require(body.model_name)]
        : fleetModels(this.catalog.models, await this.registry.workers(true))
            .filter((m) => m.workers.length > 0)
            .map((m) => m.descriptor);
    for (const m of models) await this.control.unload(m);
    return JSON.stringify('OK');
  }
}
