/**
 * The onnx worker's environment, validated once at start-up.
 */
import { IsIn, IsInt, IsOptional, IsString, Matches, Min } from 'class-validator';
import { CommonEnv } from '@switchyard/runtime';

export class OnnxWorkerEnv extends CommonEnv {
  /** Comma-separated model names this worker serves; empty = every onnx model in the file. */
  @IsOptional()
  @IsString()
  WORKER_MODELS?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1-64 letters, digits, dots, dashes or underscores' })
  WORKER_ID?: string;

  /** ONNX Runtime execution provider; 'cuda' needs the CUDA binaries (see README, GPU). */
  @IsIn(['cpu', 'cuda'])
  ONNX_DEVICE: string = 'cpu';

  /** On SIGTERM, how long running jobs may finish before they are failed. */
  @IsInt()
  @Min(0)
  SHUTDOWN_DRAIN_MS: number = 10_000;
}

export const ONNX_WORKER_ENV = Symbol('ONNX_WORKER_ENV');
