/**
 * The onnx worker's environment, validated once at start-up.
 */
import { IsIn } from 'class-validator';
import { WorkerEnv } from '@switchyard/runtime';

export class OnnxWorkerEnv extends WorkerEnv {
  /** ONNX Runtime execution provider; 'cuda' needs the CUDA binaries (see README, GPU). */
  @IsIn(['cpu', 'cuda'])
  ONNX_DEVICE: string = 'cpu';

  /** Task jobs are short: 10 s of drain is plenty. */
  override SHUTDOWN_DRAIN_MS: number = 10_000;
}
