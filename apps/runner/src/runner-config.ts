/**
 * The runner's settings: environment variables, overridden by command-line flags. The token comes
 * from the environment (a flag would show in `ps`).
 */
import { IsIn, IsOptional, IsString, Matches } from 'class-validator';

export class RunnerEnv {
  /** host:port of the gateway's runner endpoint (its RUNNER_GRPC_PORT). */
  @IsString()
  RUNNER_GATEWAY: string = '127.0.0.1:50051';

  @IsOptional()
  @IsString()
  RUNNER_TOKEN?: string;

  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1-64 letters, digits, dots, dashes or underscores' })
  RUNNER_NAME: string = 'runner';

  /** Dial with TLS ('true'), optionally trusting RUNNER_TLS_CA instead of the system roots. */
  @IsIn(['true', 'false'])
  RUNNER_TLS: string = 'false';

  @IsOptional()
  @IsString()
  RUNNER_TLS_CA?: string;

  /** A models file (same format as the gateway's: llama.cpp and upstream entries) naming what to serve. */
  @IsOptional()
  @IsString()
  RUNNER_MODELS_FILE?: string;

  /** llama.cpp compute backend for GGUF models; 'false' forces CPU. */
  @IsIn(['auto', 'false', 'cuda', 'vulkan', 'metal'])
  LLAMA_GPU: string = 'auto';

  @IsIn(['debug', 'info', 'warn', 'error'])
  LOG_LEVEL: string = 'info';
}
