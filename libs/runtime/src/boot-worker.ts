/**
 * What every worker app's main does, once: check that its engine handles every job kind the backend
 * table gives its backend, validate the environment (a bad variable is one clear line), start the
 * worker's service in a Nest application context (no HTTP server), and drain it on SIGTERM. Also
 * the worker's share of the models file and its id.
 */
import 'reflect-metadata';
import { Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Backend, ModelOf } from '@switchyard/contracts';
import { EnvError, loadEnv, splitList, type WorkerEnv } from './env';
import { assertHandlesKinds } from './job-handlers';
import { exitWithFatal, Logger, NestLogger } from './logger';
import { loadModelsFile, ModelsFileError } from './models-file';
import { handleShutdown } from './shutdown';

/** Injection token of the worker's validated environment (`@Inject(WORKER_ENV)`). */
export const WORKER_ENV = Symbol('WORKER_ENV');

@Module({})
class WorkerAppModule {}

export interface WorkerApp<E extends WorkerEnv> {
  /** The app's name, for log lines and the fatal error line. */
  name: string;
  backend: Backend;
  /** The job kinds its engine has handlers for. */
  handledKinds: readonly string[];
  env: new () => E;
  /** The Nest provider that runs the worker (it injects WORKER_ENV). */
  service: Type<unknown>;
}

export function bootWorker<E extends WorkerEnv>(app: WorkerApp<E>): void {
  const start = async (): Promise<void> => {
    assertHandlesKinds(app.backend, app.handledKinds);
    const env = loadEnv(app.env);
    // A bad models file is one clear line here, not an error from inside Nest's injector.
    loadModelsFile(env.MODELS_FILE);
    const context = await NestFactory.createApplicationContext(
      { module: WorkerAppModule, providers: [app.service, { provide: WORKER_ENV, useValue: env }] },
      { logger: new NestLogger(), abortOnError: false },
    );
    handleShutdown(context, new Logger(app.name));
  };
  start().catch((err: unknown) => {
    exitWithFatal(app.name, err, err instanceof EnvError || err instanceof ModelsFileError);
  });
}

/** The models of the file this worker serves: its backend's, narrowed to WORKER_MODELS when set. */
export function workerModels<B extends Backend>(env: WorkerEnv, backend: B): ModelOf<B>[] {
  const wanted = new Set(splitList(env.WORKER_MODELS));
  const models = loadModelsFile(env.MODELS_FILE).filter((m): m is ModelOf<B> => m.backend === backend && (wanted.size === 0 || wanted.has(m.name)));
  for (const name of wanted) {
    if (!models.some((m) => m.name === name)) throw new EnvError(`WORKER_MODELS names '${name}', which is not a ${backend} model of the models file`);
  }
  return models;
}

/** WORKER_ID, or a name unique on this machine. */
export function workerIdFrom(env: WorkerEnv, kind: string): string {
  return env.WORKER_ID ?? `${hostname()}-${kind}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
