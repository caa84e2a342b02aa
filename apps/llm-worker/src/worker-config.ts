/**
 * The llm worker's environment, validated once at start-up.
 */
import { IsIn } from 'class-validator';
import { WorkerEnv } from '@switchyard/runtime';

export class LlmWorkerEnv extends WorkerEnv {
  /** llama.cpp compute backend; 'false' forces CPU. */
  @IsIn(['auto', 'false', 'cuda', 'vulkan', 'metal'])
  LLAMA_GPU: string = 'auto';
}
