/** The upstream worker app: no HTTP server, only queue consumers calling OpenAI-compatible servers. */
import { type DynamicModule, Module } from '@nestjs/common';
import { UPSTREAM_WORKER_ENV, type UpstreamWorkerEnv } from './upstream-worker-config';
import { UpstreamWorkerService } from './upstream-worker.service';

@Module({ providers: [UpstreamWorkerService] })
export class UpstreamWorkerModule {
  static withEnv(env: UpstreamWorkerEnv): DynamicModule {
    return { module: UpstreamWorkerModule, providers: [{ provide: UPSTREAM_WORKER_ENV, useValue: env }] };
  }
}
