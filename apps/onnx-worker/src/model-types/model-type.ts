/**
 * The onnx worker's plug-in point. A model type (embeddings, classifier, reranker; audio and image
 * types later) loads a model folder and answers the task jobs it serves. The worker around it owns
 * queues, events, heartbeats and lifecycle, so a new type is one file plus one registry line.
 */
import type { ImageDelta, ImageProgress, OnnxModelDescriptor, TaskJobData, TaskResult } from '@switchyard/contracts';
import { Rejection, type LoadReporter } from '@switchyard/runtime';
import type { BatcherStats } from '../dynamic-batcher';
import type { TransformersModule } from '../transformers';

export interface ModelTypeContext {
  lib: TransformersModule;
  device: 'cpu' | 'cuda';
  /** True while a job this worker holds has not yet handed its inputs to the batcher. */
  othersComing: () => boolean;
  /** Hears the load's steps (shown in the worker's heartbeat while it loads). */
  report?: LoadReporter;
}

/** A job's progress callbacks: `joined` when its inputs are queued for a model run. */
export interface JobHooks {
  joined: () => void;
  /** Aborted when the client has gone (or the worker is stopping): long jobs check it between runs. */
  signal: AbortSignal;
  /** Sends a piece of a streamed answer (a transcript's finished segment) before the result. */
  delta: (text: string) => void;
  /** Sends a piece of encoded speech (in the job's response format) before the result. */
  audio: (bytes: Buffer) => void;
  /** Sends a finished or partial image (image jobs). */
  image: (image: ImageDelta) => void;
  /** Reports denoising progress (image jobs). */
  progress: (progress: ImageProgress) => void;
}

export interface ServedModel {
  /** Longest input in tokens, after the model's own limits. */
  readonly contextSize: number;
  /** Runs one job; throws a Rejection for a request the model cannot serve (400). */
  run(job: TaskJobData, hooks: JobHooks): Promise<TaskResult>;
  /** Re-checks whether a waiting batch may start (a job left without joining). */
  poke(): void;
  /** Model runs and inputs so far (inputs / runs = the mean batch size). */
  stats(): BatcherStats;
  dispose(): Promise<void>;
}

export interface ModelType {
  load(descriptor: OnnxModelDescriptor, ctx: ModelTypeContext): Promise<ServedModel>;
}

/** The job kind a model type does not serve (the gateway routes by task, so this is a bug). */
export function wrongKind(job: TaskJobData, task: string): Rejection {
  return Rejection.badRequest(`This ${task} model cannot serve '${job.kind}' requests.`, 'model', 'model_not_supported');
}
