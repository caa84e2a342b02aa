/**
 * The upstream worker's environment, validated once at start-up.
 */
import { IsInt, IsOptional, IsString, Matches, Min } from 'class-validator';
import { CommonEnv } from '@switchyard/runtime';

export class UpstreamWorkerEnv extends CommonEnv {
  /** Comma-separated model names this worker serves; empty = every upstream model in the file. */
  @IsOptional()
  @IsString()
  WORKER_MODELS?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1-64 letters, digits, dots, dashes or underscores' })
  WORKER_ID?: string;

  /** On SIGTERM, how long running requests may finish before they are aborted. */
  @IsInt()
  @Min(0)
  SHUTDOWN_DRAIN_MS: number = 20_000;
}

export const UPSTREAM_WORKER_ENV = Symbol('UPSTREAM_WORKER_ENV');
