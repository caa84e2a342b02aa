/** The llm worker app: no HTTP server, only queue consumers for the models it serves. */
import { Module } from '@nestjs/common';
import { loadEnv } from '@switchyard/runtime';
import { LlmWorkerService } from './llm-worker.service';
import { LLM_WORKER_ENV, LlmWorkerEnv } from './worker-config';

@Module({
  providers: [{ provide: LLM_WORKER_ENV, useFactory: () => loadEnv(LlmWorkerEnv) }, LlmWorkerService],
})
export class LlmWorkerModule {}
