/** Entry point of the llm worker (llama.cpp through node-llama-cpp). */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { assertHandlesKinds, EnvError, handleShutdown, loadEnv, Logger, ModelsFileError } from '@switchyard/runtime';
import { LlmWorkerModule } from './llm-worker.module';
import { ModelHost } from './model-host';
import { LlmWorkerEnv } from './worker-config';

async function main(): Promise<void> {
  assertHandlesKinds('llama.cpp', ModelHost.handledKinds);
  const app = await NestFactory.createApplicationContext(LlmWorkerModule.withEnv(loadEnv(LlmWorkerEnv)), { logger: ['error', 'warn'], abortOnError: false });
  handleShutdown(app, new Logger('llm-worker'));
}

main().catch((err: unknown) => {
  const known = err instanceof EnvError || err instanceof ModelsFileError;
  process.stderr.write(`llm-worker: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
