/**
 * Descriptors of models served by the ONNX Runtime worker, and the model types it knows. A model
 * type is one of the worker's plug-ins (embeddings, classifier, reranker today; audio and image
 * types later): the models file names it in `task`, the gateway routes endpoints by it.
 */
import type { ModelDescriptorBase } from './models';
import type { Backend } from './queues';

export type OnnxTask = 'embeddings' | 'classifier' | 'reranker' | 'speech-recognition';

export const ONNX_TASKS: readonly OnnxTask[] = ['embeddings', 'classifier', 'reranker', 'speech-recognition'];

/** ONNX weight variants as transformers.js names them (file suffixes: `_quantized`, `_fp16`, ...). */
export type OnnxDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';

/**
 * speech-recognition: how a Whisper model decodes, with OpenAI's reference defaults. A threshold
 * set to null turns its check off.
 */
export interface SpeechOptions {
  /** Weights of the encoder and the merged decoder (default fp32: `onnx/encoder_model.onnx`). */
  dtype: OnnxDtype;
  /** Temperatures tried in turn at `temperature: 0` when a window's decode looks bad (default 0, 0.2 ... 1). */
  temperatureFallback: number[];
  /** A window whose text compresses better than this (gzip ratio) is decoded again hotter (2.4). */
  compressionRatioThreshold: number | null;
  /** ... or whose mean token log probability is below this (-1). */
  logprobThreshold: number | null;
  /** A window is silence when <|nospeech|> is more likely than this and the logprob check failed (0.6). */
  noSpeechThreshold: number | null;
  /** Longest audio accepted, in seconds (default 7200). */
  maxDurationS: number;
}

/** How token vectors become one embedding. */
export type EmbeddingPooling = 'mean' | 'cls';

export interface OnnxModelDescriptor extends ModelDescriptorBase {
  backend: Extract<Backend, 'onnx'>;
  task: OnnxTask;
  /** Absolute path of the model folder (config.json, tokenizer.json, onnx/model.onnx). */
  path: string;
  /** ONNX file inside the folder (default onnx/model.onnx). */
  file: string;
  /** Longest input in tokens (default: the tokenizer's model_max_length); longer ones get a 400. */
  contextSize: number;
  /** Jobs a worker holds at once (BullMQ concurrency), so concurrent requests can be batched. */
  parallel: number;
  /** ONNX Runtime intra-op threads. */
  threads: number;
  /** Inputs merged into one ONNX run at most (1 turns dynamic batching off). */
  maxBatch: number;
  /** How long the first input of a batch waits for others to join. */
  batchWaitMs: number;
  /** embeddings: pooling of token vectors, and whether embeddings are L2-normalized. */
  pooling: EmbeddingPooling;
  normalize: boolean;
  /** embeddings: the model was trained for shortened embeddings (Matryoshka), so `dimensions` is allowed. */
  matryoshka: boolean;
  /** classifier: model label → OpenAI moderation categories it stands for. */
  categories: Record<string, string[]>;
  /** classifier: score at or above which a category is flagged. */
  threshold: number;
  /** speech-recognition only. */
  speech?: SpeechOptions;
}
