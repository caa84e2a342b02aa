/**
 * Environment validation: each app declares a class of its variables (class-validator), reads it
 * once at start-up, and exits with the names of every bad variable instead of failing later.
 */
import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { IsIn, IsString, Matches, validateSync } from 'class-validator';

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
}
