/**
 * Jobs that answer with one result instead of a token stream (embeddings, classification,
 * reranking), their results, and their queue. The ONNX worker serves all three; the llm worker
 * serves embeddings of GGUF embedding models.
 */
import type { JobsOptions } from 'bullmq';
import type { SpeechJobData, SpeechResult, TranscribeJobData, TranscribeResult } from './audio-jobs';
import type { ImageJobData, ImageResult } from './image-jobs';
import { llmQueueName } from './queues';

/** Inputs longer than the model's limit: rejected (400), unless the request asked to truncate. */
interface TaskJobBase {
  /** Model name as configured (aliases already resolved). */
  model: string;
  truncate: boolean;
  /** Epoch ms when the gateway enqueued the job. */
  enqueuedAt: number;
}

export interface EmbeddingsJobData extends TaskJobBase {
  kind: 'embeddings';
  /** Texts, or token ids as OpenAI accepts them. */
  inputs: Array<string | number[]>;
  /** Shorten each embedding to this many dimensions and re-normalize. */
  dimensions?: number;
}

export interface ClassifyJobData extends TaskJobBase {
  kind: 'classify';
  inputs: string[];
}

export interface RerankJobData extends TaskJobBase {
  kind: 'rerank';
  query: string;
  documents: string[];
}

export type TaskJobData = EmbeddingsJobData | ClassifyJobData | RerankJobData | TranscribeJobData | SpeechJobData | ImageJobData;
export type TaskJobName = TaskJobData['kind'];

export interface EmbeddingsResult {
  kind: 'embeddings';
  /** One per input, in order: little-endian float32, base64 (what OpenAI's base64 format sends). */
  vectors: string[];
  promptTokens: number;
}

export interface ClassifyResult {
  kind: 'classify';
  /** One per input: the model's label → score (0-1). */
  scores: Array<Record<string, number>>;
  promptTokens: number;
}

export interface RerankResult {
  kind: 'rerank';
  /** One per document, in the documents' order. */
  scores: number[];
  promptTokens: number;
}

export type TaskResult = EmbeddingsResult | ClassifyResult | RerankResult | TranscribeResult | SpeechResult | ImageResult;

/**
 * A task has no side effects and streams nothing, so a job whose worker died is simply run again
 * by another (BullMQ's stalled-job check); finished jobs are removed at once.
 */
export const TASK_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { age: 3600, count: 1000 },
};

/**
 * A lost worker's job goes back to the queue when its lock expires. ONNX Runtime's run holds the
 * worker's event loop (no lock renewal, no heartbeat) for the whole model run: about 1.4 s for one
 * whisper-base window on one CPU thread, 11.5 s for a batch of 8, so the lock covers a long run.
 */
export const TASK_LOCK_DURATION_MS = 30_000;
export const TASK_STALLED_INTERVAL_MS = 5_000;

/** The BullMQ queue of one ONNX model (names escaped as for llm queues). */
export function onnxQueueName(modelName: string): string {
  return `onnx.${llmQueueName(modelName).slice('llm.'.length)}`;
}
