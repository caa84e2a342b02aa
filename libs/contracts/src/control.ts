/**
 * Control messages from gateways (admin API, on-demand loading) to one worker, and its replies.
 * A worker SUBSCRIBEs to its own control channel; the sender subscribes to the reply channel
 * before publishing, so a reply cannot be missed.
 */
import { REDIS_PREFIX } from './queues';

/** Settings a load may override (text-generation-webui's `args` names). */
export interface LoadArgs {
  ctx_size?: number;
  parallel?: number;
  threads?: number;
  gpu_layers?: number | 'auto' | 'max';
}

export type ControlCommand =
  | { op: 'load'; requestId: string; model: string; args: LoadArgs }
  | { op: 'unload'; requestId: string; model: string; drainMs: number };

export type ControlReply =
  | { requestId: string; ok: true; model: string; ms: number }
  | { requestId: string; ok: false; model: string; status: number; code: string; message: string };

export function workerControlChannel(workerId: string): string {
  return `${REDIS_PREFIX}:worker:${workerId}:control`;
}

export function controlReplyChannel(requestId: string): string {
  return `${REDIS_PREFIX}:control:${requestId}:reply`;
}

/** Held (SET NX) while some gateway is loading a model on demand, so one load starts, not many. */
export function modelLoadLockKey(model: string): string {
  return `${REDIS_PREFIX}:model:${model}:loading`;
}

/**
 * Where a load stands, as the engine reports it: `progress` from 0 to 1 over the whole load (1 only
 * once it is ready) and a short name for the current step (llama.cpp: `weights`, `context`; onnx:
 * `files`, `session`).
 */
export interface LoadStep {
  progress: number;
  stage: string;
}

/**
 * Published on a worker's load-progress channel at each heartbeat written for a load step (so at
 * most every few hundred ms), for a client watching one load (the admin API's SSE load stream).
 */
export interface LoadProgressMessage {
  model: string;
  state: 'loading' | 'ready' | 'unloading' | 'failed';
  progress?: number;
  stage?: string;
}

export function workerLoadProgressChannel(workerId: string): string {
  return `${REDIS_PREFIX}:worker:${workerId}:load-progress`;
}
