/** Entry point of the onnx worker (ONNX Runtime through transformers.js): embeddings, classifiers, rerankers. */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { assertHandlesKinds, EnvError, handleShutdown, loadEnv, Logger, ModelsFileError } from '@switchyard/runtime';
import { KIND_TASKS } from './model-types';
import { OnnxWorkerModule } from './onnx-worker.module';
import { OnnxWorkerEnv } from './worker-config';

async function main(): Promise<void> {
  assertHandlesKinds('onnx', Object.keys(KIND_TASKS));
  const app = await NestFactory.createApplicationContext(OnnxWorkerModule.withEnv(loadEnv(OnnxWorkerEnv)), { logger: ['error', 'warn'], abortOnError: false });
  handleShutdown(app, new Logger('onnx-worker'));
}

main().catch((err: unknown) => {
  const known = err instanceof EnvError || err instanceof ModelsFileError;
  process.stderr.write(`onnx-worker: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
