/**
 * Remote runners: a process next to a model (a GGUF file or a local OpenAI-compatible server) dials
 * out to a gateway over gRPC and serves models registered at run time. The gateway holding the
 * connection consumes the model's queue on the runner's behalf and writes a heartbeat for it, so the
 * rest of the fleet sees the runner as a worker.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './queues';
import { safeQueuePart } from './upstream';
import type { ModelDescriptorBase, WorkerHeartbeat } from './models';

/**
 * What jobs a runner model takes: `llm` (the llama worker's chat/completion jobs, for a GGUF served
 * in the runner) or `upstream` (the pass-through body, for a local OpenAI-compatible server).
 */
export type RunnerJobFormat = 'llm' | 'upstream';

export interface RunnerModelDescriptor extends ModelDescriptorBase {
  backend: Extract<Backend, 'runner'>;
  format: RunnerJobFormat;
  /** Requests the runner serves at once. */
  parallel: number;
}

/** A runner's heartbeat: a worker heartbeat plus the descriptors of the models it registered. */
export interface RunnerHeartbeat extends WorkerHeartbeat {
  runnerModels: RunnerModelDescriptor[];
}

export function isRunnerHeartbeat(hb: WorkerHeartbeat): hb is RunnerHeartbeat {
  return hb.backend === 'runner' && Array.isArray((hb as Partial<RunnerHeartbeat>).runnerModels);
}

export function runnerQueueName(modelName: string): string {
  return `runner.${safeQueuePart(modelName)}`;
}

/** Where the proto file lives relative to this lib's folder (copied next to the compiled code too). */
export const RUNNER_PROTO_FILE = 'runner.proto';

/**
 * The proto file at run time: beside the compiled lib (the build copies it to dist/), else in the
 * source tree (tests run from source; a dist/ built without the copy still works from a checkout).
 */
export function runnerProtoPath(): string {
  const candidates = [join(__dirname, '../proto', RUNNER_PROTO_FILE), join(__dirname, '../../../../libs/contracts/proto', RUNNER_PROTO_FILE)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`runner.proto not found (looked in ${candidates.join(', ')})`);
  return found;
}
