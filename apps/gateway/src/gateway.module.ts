/**
 * The gateway app: OpenAI HTTP API in front of the queues. It never runs a model.
 *
 * One folder per feature (chat, tasks, audio, images, tokens, models, admin, runner-bridge), each with its
 * module, controllers, DTOs and formatter; `core/` holds what they share (CoreModule, global). A new
 * feature is a folder with its module, listed below: its controllers inject
 * InferenceService and ModelCatalogService from core and write OpenAI's shapes themselves.
 */
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { AdminModule } from './admin/admin.module';
import { AudioModule } from './audio/audio.module';
import { ChatModule } from './chat/chat.module';
import { ImagesModule } from './images/images.module';
import { ApiKeyGuard } from './core/api-key.guard';
import { CoreModule } from './core/core.module';
import { LoggingModule } from './logging/logging.module';
import { DashboardModule } from './dashboard/dashboard.module';
import type { GatewayEnv } from './core/gateway-config';
import { OpenAIErrorFilter } from './core/openai-error.filter';
import { ModelsModule } from './models/models.module';
import { MetricsModule } from './metrics/metrics.module';
import { RunnerBridgeModule } from './runner-bridge/runner-bridge.module';
import { TasksModule } from './tasks/tasks.module';
import { TokensModule } from './tokens/tokens.module';
import { ResponsesModule } from './responses/responses.module';

const FEATURES = [ModelsModule, ChatModule, ResponsesModule, TasksModule, AudioModule, ImagesModule, TokensModule, AdminModule, RunnerBridgeModule, DashboardModule, MetricsModule];

@Module({})
export class GatewayModule {
  /** The environment is validated once, in main, before Nest starts (a bad variable is one clear line). */
  static withEnv(env: GatewayEnv): DynamicModule {
    return {
      module: GatewayModule,
      imports: [LoggingModule, CoreModule.withEnv(env), ...FEATURES],
      providers: [
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: OpenAIErrorFilter },
      ],
    };
  }
}
