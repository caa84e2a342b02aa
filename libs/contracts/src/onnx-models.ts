/**
 * Descriptors of models served by the ONNX Runtime worker, and the model types it knows. A model
 * type is one of the worker's plug-ins (embeddings, classifier, reranker today; audio and image
 * types later): the models file names it in `task`, the gateway routes endpoints by it.
 */
import type { ImageOptions } from './image-jobs';
import type { ModelDescriptorBase } from './models';
import type { Backend } from './queues';

export type OnnxTask = 'embeddings' | 'classifier' | 'reranker' | 'speech-recognition' | 'text-to-speech' | 'image-generation';

export const ONNX_TASKS: readonly OnnxTask[] = ['embeddings', 'classifier', 'reranker', 'speech-recognition', 'text-to-speech', 'image-generation'];

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

/** The voice model families sherpa-onnx runs (Piper voices are VITS). */
export type VoiceEngine = 'vits' | 'kokoro' | 'matcha' | 'kitten';

export const VOICE_ENGINES: readonly VoiceEngine[] = ['vits', 'kokoro', 'matcha', 'kitten'];

/**
 * text-to-speech: the files of a voice model (inside its folder; the model file is the descriptor's
 * `file`) and its voices. Absent optional files are looked up in the folder at load.
 */
export interface VoiceOptions {
  engine: VoiceEngine;
  /** Token table ("symbol id" lines; default tokens.txt). */
  tokens: string;
  /** espeak-ng data for phoneme voices (default: the folder's espeak-ng-data, else the system's). */
  dataDir?: string;
  /** Word -> phonemes lexicon, for voices that use one. */
  lexicon?: string;
  /** kokoro/kitten: the style vectors (default voices.bin). */
  voicesFile?: string;
  /** matcha: the vocoder (a separate ONNX file). */
  vocoder?: string;
  /** Voice name -> speaker id: the model's own names, and overrides of the default OpenAI mapping. */
  voices: Record<string, number>;
  /** Speakers the model has, when the models file says (for the voice list; the worker knows for sure). */
  speakers?: number;
  /** Longest input in characters (OpenAI's is 4096). */
  maxInputChars: number;
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
  /** text-to-speech only. */
  voice?: VoiceOptions;
  /** image-generation only (the folder is a diffusers/Optimum ONNX pipeline). */
  image?: ImageOptions;
}
