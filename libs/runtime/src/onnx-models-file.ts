/**
 * The models file's `backend: onnx` entries, once models.schema.json has admitted them
 * (models-file.ts reads the fields every backend shares and hands these over). An ONNX model is a
 * folder in Hugging Face's layout; `task` names the worker plug-in that serves it.
 */
import { isAbsolute, resolve } from 'node:path';
import type { EmbeddingPooling, ImageOptions, ImageQuality, OnnxDtype, OnnxModelDescriptor, OnnxTask, SpeechOptions, VoiceEngine, VoiceOptions } from '@switchyard/contracts';
import { ModelsFileError } from './models-file';
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
  engine?: VoiceEngine;
  tokens?: string;
  data_dir?: string;
  lexicon?: string;
  voices_file?: string;
  vocoder?: string;
  voices?: Record<string, number>;
  speakers?: number;
  max_input?: number;
  default_size?: string;
  min_side?: number;
  max_side?: number;
  size_multiple?: number;
  quality_steps?: Partial<Record<ImageQuality, number>>;
  max_steps?: number;
  guidance_scale?: number;
  scheduler?: string;
  strength?: number;
  max_queue?: number;
  auto_load?: boolean;
  preload?: boolean;
  keep_alive?: number | string;
  owned_by?: string;
}

export interface EntryContext {
  /** Where the entry is, for errors ("models[3]"). */
  at: string;
  name: string;
  aliases: string[];
  baseDir: string;
  created: number;
}

export function parseOnnxEntry(e: OnnxEntry, ctx: EntryContext): OnnxModelDescriptor {
  // Audio jobs run for seconds and one at a time per run: fewer held, no batches.
  const audio = e.task === 'speech-recognition' || e.task === 'text-to-speech';
  // A denoising loop keeps the cores busy on its own: two held (one runs, the next is decoded and
  // waiting), never batched with other jobs.
  const image = e.task === 'image-generation';
  return {
    name: ctx.name,
    aliases: ctx.aliases,
    backend: 'onnx',
    task: e.task,
    path: isAbsolute(e.path) ? e.path : resolve(ctx.baseDir, e.path),
    file: e.file ?? defaultFile(e),
    contextSize: e.context_size ?? 512,
    // A transcription holds its decoded audio (up to 230 MB an hour) while it runs: fewer at once.
    parallel: e.parallel ?? (image ? 2 : audio ? 8 : 32),
    threads: e.threads ?? 1,
    // Whisper's encoder gains nothing from batching on CPU (8 windows take 8 times one) and a batch
    // blocks the worker as long as all its windows: batch only where it pays (a GPU).
    maxBatch: e.max_batch ?? (audio || image ? 1 : 32),
    batchWaitMs: e.batch_wait_ms ?? 2,
    pooling: e.pooling ?? 'mean',
    normalize: e.normalize ?? true,
    matryoshka: e.matryoshka ?? false,
    categories: Object.fromEntries(Object.entries(e.categories ?? {}).map(([label, c]) => [label, typeof c === 'string' ? [c] : c])),
    threshold: e.threshold ?? 0.5,
    ...(e.task === 'speech-recognition' ? { speech: speechOptions(e) } : {}),
    ...(e.task === 'text-to-speech' ? { voice: voiceOptions(e, ctx.baseDir) } : {}),
    ...(image ? { image: imageOptions(e, ctx.at) } : {}),
    maxQueue: e.max_queue ?? 256,
    autoLoad: e.auto_load ?? true,
    preload: e.preload ?? true,
    keepAliveMs: durationMs(e.keep_alive, -1),
    created: ctx.created,
    ownedBy: e.owned_by ?? 'switchyard',
  };
}

/**
 * The model file when the entry names none. A voice's is '' here: the worker takes the folder's
 * model.onnx, or its only .onnx file (a Piper voice is named after itself).
 */
function defaultFile(e: OnnxEntry): string {
  if (e.task === 'speech-recognition') return `onnx/encoder_model${DTYPE_SUFFIX[e.dtype ?? 'fp32']}.onnx`;
  if (e.task === 'text-to-speech') return '';
  if (e.task === 'image-generation') return 'unet/model.onnx';
  return 'onnx/model.onnx';
}

/** A voice model's files and voices; paths stay relative to the folder but data_dir (any directory). */
function voiceOptions(e: OnnxEntry, baseDir: string): VoiceOptions {
  return {
    engine: e.engine ?? 'vits',
    tokens: e.tokens ?? 'tokens.txt',
    ...(e.data_dir !== undefined ? { dataDir: isAbsolute(e.data_dir) ? e.data_dir : resolve(baseDir, e.data_dir) } : {}),
    ...(e.lexicon !== undefined ? { lexicon: e.lexicon } : {}),
    ...(e.voices_file !== undefined ? { voicesFile: e.voices_file } : {}),
    ...(e.vocoder !== undefined ? { vocoder: e.vocoder } : {}),
    voices: e.voices ?? {},
    ...(e.speakers !== undefined ? { speakers: e.speakers } : {}),
    maxInputChars: e.max_input ?? 4096,
  };
}

/** An image pipeline's sizes and step counts; a bad size here is the file's error, named by key. */
function imageOptions(e: OnnxEntry, at: string): ImageOptions {
  const minSide = e.min_side ?? 64;
  const maxSide = e.max_side ?? 2048;
  const [width, height] = (e.default_size ?? '512x512').split('x').map(Number) as [number, number];
  const sizeMultiple = e.size_multiple ?? 8;
  for (const side of [width, height]) {
    if (side % sizeMultiple !== 0 || side < minSide || side > maxSide) {
      throw new ModelsFileError(`${at}: 'default_size' ${width}x${height} must be multiples of ${sizeMultiple} from min_side ${minSide} to max_side ${maxSide}`);
    }
  }
  if (minSide > maxSide) throw new ModelsFileError(`${at}: 'min_side' ${minSide} is above 'max_side' ${maxSide}`);
  const steps = e.quality_steps ?? {};
  return {
    defaultSize: { width, height },
    minSide,
    maxSide,
    sizeMultiple,
    // SD-Turbo's card: 1 step is its design, a few more refine; SD 1.5 wants 20-50 (set them).
    qualitySteps: { low: steps.low ?? 1, medium: steps.medium ?? 2, high: steps.high ?? 4 },
    maxSteps: e.max_steps ?? 100,
    guidanceScale: e.guidance_scale ?? 7.5,
    ...(e.scheduler !== undefined ? { scheduler: e.scheduler } : {}),
    strength: e.strength ?? 0.75,
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
