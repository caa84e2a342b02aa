/** The gateway app: OpenAI HTTP API in front of the queues. It never runs a model. */
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { AdminController } from './admin.controller';
import { ApiKeyGuard } from './api-key.guard';
import { ChatCompletionsController } from './chat-completions.controller';
import { CompletionsController } from './completions.controller';
import { EmbeddingsController } from './embeddings.controller';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';
import { GatewayHeartbeat } from './gateway-heartbeat.service';
import { HealthController } from './health.controller';
import { InferenceService } from './inference.service';
import { JobEventsSubscriber } from './job-events.subscriber';
import { ModelCatalogService } from './model-catalog.service';
import { ModelControlService } from './model-control.service';
import { ModelsController } from './models.controller';
import { ModerationsController } from './moderations.controller';
import { OpenAIErrorFilter } from './openai-error.filter';
import { RedisConnections } from './redis-connections';
import { RedisSubscriptions } from './redis-subscriptions';
import { RerankController } from './rerank.controller';
import { RunnerGatewayService } from './runner-gateway.service';
import { TokensController } from './tokens.controller';
import { WorkerRegistry } from './worker-registry.service';

@Module({
  controllers: [
    ModelsController,
    ChatCompletionsController,
    CompletionsController,
    EmbeddingsController,
    ModerationsController,
    RerankController,
    TokensController,
    AdminController,
    HealthController,
  ],
  providers: [
    RedisConnections,
    GatewayHeartbeat,
    WorkerRegistry,
    RedisSubscriptions,
    JobEventsSubscriber,
    ModelControlService,
    InferenceService,
    ModelCatalogService,
    RunnerGatewayService,
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_FILTER, useClass: OpenAIErrorFilter },
  ],
})
export class GatewayModule {
  /** The environment is validated once, in main, before Nest starts (a bad variable is one clear line). */
  static withEnv(env: GatewayEnv): DynamicModule {
    return { module: GatewayModule, providers: [{ provide: GATEWAY_ENV, useValue: env }] };
  }
}
