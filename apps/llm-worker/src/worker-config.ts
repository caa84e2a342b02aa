/**
 * The llm worker's environment, validated once at start-up.
 */
import { IsIn, IsInt, IsOptional, IsString, Matches, Min } from 'class-validator';
import { CommonEnv } from '@switchyard/runtime';

export class LlmWorkerEnv extends CommonEnv {
  /** Comma-separated model names this worker serves; empty = every llama.cpp model in the file. */
  @IsOptional()
  @IsString()
  WORKER_MODELS?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1-64 letters, digits, dots, dashes or underscores' })
  WORKER_ID?: string;

  /** llama.cpp compute backend; 'false' forces CPU. */
  @IsIn(['auto', 'false', 'cuda', 'vulkan', 'metal'])
  LLAMA_GPU: string = 'auto';

  /** On SIGTERM, how long running generations may finish before they are aborted. */
  @IsInt()
  @Min(0)
  SHUTDOWN_DRAIN_MS: number = 20_000;
}

export const LLM_WORKER_ENV = Symbol('LLM_WORKER_ENV');
