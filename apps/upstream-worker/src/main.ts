/** Entry point of the upstream worker (routes models to OpenAI-compatible servers). */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { assertHandlesKinds, EnvError, handleShutdown, loadEnv, Logger, ModelsFileError } from '@switchyard/runtime';
import { UpstreamModelHost } from './upstream-model-host';
import { UpstreamWorkerEnv } from './upstream-worker-config';
import { UpstreamWorkerModule } from './upstream-worker.module';

async function main(): Promise<void> {
  assertHandlesKinds('upstream', UpstreamModelHost.handledKinds);
  const app = await NestFactory.createApplicationContext(UpstreamWorkerModule.withEnv(loadEnv(UpstreamWorkerEnv)), { logger: ['error', 'warn'], abortOnError: false });
  handleShutdown(app, new Logger('upstream-worker'));
}

main().catch((err: unknown) => {
  const known = err instanceof EnvError || err instanceof ModelsFileError;
  process.stderr.write(`upstream-worker: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
