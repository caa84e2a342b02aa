/**
 * The models file's `backend: onnx` entries, once models.schema.json has admitted them
 * (models-file.ts reads the fields every backend shares and hands these over). An ONNX model is a
 * folder in Hugging Face's layout; `task` names the worker plug-in that serves it.
 */
import { isAbsolute, resolve } from 'node:path';
import type { EmbeddingPooling, OnnxDtype, OnnxModelDescriptor, OnnxTask, SpeechOptions } from '@switchyard/contracts';
import { durationMs } from './models-schema';

/** OpenAI's moderation categories, which `categories` may map model labels to. */
export const OPENAI_MODERATION_CATEGORIES: readonly string[] = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
];

/** An onnx entry as models.schema.json admits it. */
export interface OnnxEntry {
  task: OnnxTask;
  path: string;
  file?: string;
  context_size?: number;
  parallel?: number;
  threads?: number;
  max_batch?: number;
  batch_wait_ms?: number;
  pooling?: EmbeddingPooling;
  normalize?: boolean;
  matryoshka?: boolean;
  /** `categories: { toxic: harassment, threat: [violence, harassment/threatening] }`. */
  categories?: Record<string, string | string[]>;
  threshold?: number;
  dtype?: OnnxDtype;
  temperature_fallback?: number[];
  compression_ratio_threshold?: number | null;
  logprob_threshold?: number | null;
  no_speech_threshold?: number | null;
  max_duration?: number;
  max_queue?: number;
  auto_load?: boolean;
  preload?: boolean;
  keep_alive?: number | string;
  owned_by?: string;
}

export interface EntryContext {
  name: string;
  aliases: string[];
  baseDir: string;
  created: number;
}

export function parseOnnxEntry(e: OnnxEntry, ctx: EntryContext): OnnxModelDescriptor {
  return {
    name: ctx.name,
    aliases: ctx.aliases,
    backend: 'onnx',
    task: e.task,
    path: isAbsolute(e.path) ? e.path : resolve(ctx.baseDir, e.path),
    file: e.file ?? (e.task === 'speech-recognition' ? `onnx/encoder_model${DTYPE_SUFFIX[e.dtype ?? 'fp32']}.onnx` : 'onnx/model.onnx'),
    contextSize: e.context_size ?? 512,
    // A transcription holds its decoded audio (up to 230 MB an hour) while it runs: fewer at once.
    parallel: e.parallel ?? (e.task === 'speech-recognition' ? 8 : 32),
    threads: e.threads ?? 1,
    // Whisper's encoder gains nothing from batching on CPU (8 windows take 8 times one) and a batch
    // blocks the worker as long as all its windows: batch only where it pays (a GPU).
    maxBatch: e.max_batch ?? (e.task === 'speech-recognition' ? 1 : 32),
    batchWaitMs: e.batch_wait_ms ?? 2,
    pooling: e.pooling ?? 'mean',
    normalize: e.normalize ?? true,
    matryoshka: e.matryoshka ?? false,
    categories: Object.fromEntries(Object.entries(e.categories ?? {}).map(([label, c]) => [label, typeof c === 'string' ? [c] : c])),
    threshold: e.threshold ?? 0.5,
    ...(e.task === 'speech-recognition' ? { speech: speechOptions(e) } : {}),
    maxQueue: e.max_queue ?? 256,
    autoLoad: e.auto_load ?? true,
    preload: e.preload ?? true,
    keepAliveMs: durationMs(e.keep_alive, -1),
    created: ctx.created,
    ownedBy: e.owned_by ?? 'switchyard',
  };
}

/** The file-name suffix of each dtype, as transformers.js loads them. */
export const DTYPE_SUFFIX: Readonly<Record<OnnxDtype, string>> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};

/** OpenAI's reference transcribe() defaults where the entry is silent (null keeps a check off). */
function speechOptions(e: OnnxEntry): SpeechOptions {
  return {
    dtype: e.dtype ?? 'fp32',
    temperatureFallback: e.temperature_fallback ?? [0, 0.2, 0.4, 0.6, 0.8, 1],
    compressionRatioThreshold: e.compression_ratio_threshold === undefined ? 2.4 : e.compression_ratio_threshold,
    logprobThreshold: e.logprob_threshold === undefined ? -1 : e.logprob_threshold,
    noSpeechThreshold: e.no_speech_threshold === undefined ? 0.6 : e.no_speech_threshold,
    maxDurationS: e.max_duration ?? 7200,
  };
}
