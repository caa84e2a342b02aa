/**
 * Environment validation: each app declares a class of its variables (class-validator), reads it
 * once at start-up, and exits with the names of every bad variable instead of failing later.
 */
import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';

export class EnvError extends Error {}

export function loadEnv<T extends object>(cls: new () => T, env: NodeJS.ProcessEnv = process.env): T {
  const plain: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && v !== '') plain[k] = v;
  }
  const instance = plainToInstance(cls, plain, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(instance, { whitelist: false });
  if (errors.length > 0) {
    const lines = errors.map((e) => `${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new EnvError(`invalid environment variables:\n  ${lines.join('\n  ')}`);
  }
  return instance;
}

/** Comma-separated list → trimmed non-empty items. */
export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Variables every app reads: where Redis is, the models file, the log level. */
export class CommonEnv {
  @Matches(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL: string = 'redis://127.0.0.1:6379';

  @IsString()
  MODELS_FILE: string = 'models.yaml';

  @IsIn(['debug', 'info', 'warn', 'error'])
  LOG_LEVEL: string = 'info';

  /** `off` observes nothing for /metrics (it then answers 404): for measuring what metrics cost. */
  @IsIn(['on', 'off'])
  METRICS: 'on' | 'off' = 'on';
}

/** Variables every worker reads (llm, onnx, upstream): which models, its id, how long it drains. */
export class WorkerEnv extends CommonEnv {
  /** Comma-separated model names this worker serves; empty = every model of its backend in the file. */
  @IsOptional()
  @IsString()
  WORKER_MODELS?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1-64 letters, digits, dots, dashes or underscores' })
  WORKER_ID?: string;

  /** On SIGTERM, how long running jobs may finish before they are aborted. */
  @IsInt()
  @Min(0)
  SHUTDOWN_DRAIN_MS: number = 20_000;

  /** Port of the worker's probes and metrics (/health/live, /health/ready, /metrics); unset: none. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65535)
  WORKER_HTTP_PORT?: number;

  @IsString()
  WORKER_HTTP_HOST: string = '0.0.0.0';
}
