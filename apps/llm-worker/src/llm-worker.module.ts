/** The llm worker app: no HTTP server, only queue consumers for the models it serves. */
import { type DynamicModule, Module } from '@nestjs/common';
import { LlmWorkerService } from './llm-worker.service';
import { LLM_WORKER_ENV, type LlmWorkerEnv } from './worker-config';

@Module({ providers: [LlmWorkerService] })
export class LlmWorkerModule {
  /** The environment is validated once, in main, before Nest starts (a bad variable is one clear line). */
  static withEnv(env: LlmWorkerEnv): DynamicModule {
    return { module: LlmWorkerModule, providers: [{ provide: LLM_WORKER_ENV, useValue: env }] };
  }
}
