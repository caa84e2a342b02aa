/**
 * What every feature of the gateway uses: Redis connections and subscriptions, the fleet view from
 * heartbeats, the models catalog, admission and the job runner (InferenceService), model loads on
 * demand, the gateway's own heartbeat, and /health. Global, so a feature module declares only its
 * controllers; it is built with the validated environment, which its services read.
 */
import { type DynamicModule, Module } from '@nestjs/common';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';
import { GatewayHeartbeat } from './gateway-heartbeat.service';
import { HealthController } from './health.controller';
import { InferenceService } from './inference.service';
import { JobEventsSubscriber } from './job-events.subscriber';
import { ModelCatalogService } from './model-catalog.service';
import { ModelControlService } from './model-control.service';
import { RedisConnections } from './redis-connections';
import { RedisSubscriptions } from './redis-subscriptions';
import { WorkerRegistry } from './worker-registry.service';

const SERVICES = [RedisConnections, GatewayHeartbeat, WorkerRegistry, RedisSubscriptions, JobEventsSubscriber, ModelControlService, InferenceService, ModelCatalogService];

@Module({})
export class CoreModule {
  static withEnv(env: GatewayEnv): DynamicModule {
    const envProvider = { provide: GATEWAY_ENV, useValue: env };
    return { module: CoreModule, global: true, controllers: [HealthController], providers: [envProvider, ...SERVICES], exports: [envProvider, ...SERVICES] };
  }
}
