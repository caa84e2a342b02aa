/**
 * Whisper speech recognition on a folder in Hugging Face's ONNX layout (what onnx-community ships):
 * the upload is decoded to 16 kHz mono (libs/audio), then transcribed window by window as OpenAI's
 * reference `transcribe()` does it: 30 s windows moved by Whisper's own timestamps (seek), language
 * detection on the first window, the prompt and previous text as <|startofprev|> conditioning, and
 * the temperature fallback with its compression-ratio, logprob and no-speech checks. The encoder
 * runs in batches shared by concurrent jobs (and by a long file's windows); each window's decode
 * is transformers.js' `generate` on the encoder's output, so its logits rules (timestamp rules,
 * suppressed tokens) are the library's own.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { OnnxModelDescriptor, SpeechOptions, TranscribeJobData, TranscribeResult, TranscriptSegment, TranscriptWord } from '@switchyard/contracts';
import { decodeAudio, describeFfmpeg, probeFfmpeg, whisperLanguageCode } from '@switchyard/audio';
import { Logger, Rejection } from '@switchyard/runtime';
import { DynamicBatcher } from '../dynamic-batcher';
import type { Tensor, TransformersModule } from '../transformers';
import { wrongKind, type JobHooks, type ModelType } from './model-type';
import {
  compressionRatio,
  FRAMES_PER_SECOND,
  groupWords,
  INPUT_STRIDE,
  judgeWindow,
  splitWindow,
  TIME_PRECISION,
  type TimedToken,
  type WindowSegment,
} from './whisper-windows';

const log = new Logger('onnx-worker.speech');

/** Samples per mel frame, and per 30 s window. */
const HOP = 160;
const WINDOW_SAMPLES = 480_000;

/** What the decoder needs from generation_config.json (HF names). */
interface WhisperGenerationConfig {
  decoder_start_token_id: number;
  eos_token_id: number;
  no_timestamps_token_id: number;
  prev_sot_token_id?: number;
  is_multilingual?: boolean;
  lang_to_id?: Record<string, number>;
  task_to_id?: Record<string, number>;
  alignment_heads?: Array<[number, number]>;
  max_length?: number;
}

/** The transformers.js objects used, typed as far as this file needs them. */
interface WhisperModel {
  sessions: Record<string, { run(feeds: Record<string, unknown>): Promise<Record<string, { dims: number[] }>> }>;
  config: { max_target_positions?: number; d_model?: number };
  generate(args: Record<string, unknown>): Promise<unknown>;
  _extract_token_timestamps(outputs: unknown, heads: Array<[number, number]>, frames: number, precision: number, inputIds: number): Tensor;
  dispose(): Promise<unknown>;
}
interface WhisperTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
}
type FeatureExtractor = (audio: Float32Array) => Promise<{ input_features: Tensor }>;

/** One window's decode at one temperature. */
interface WindowDecode {
  tokens: number[];
  /** Times of `tokens` (word timestamps asked), absolute. */
  times?: number[];
  temperature: number;
  avgLogprob: number;
  compressionRatio: number;
  noSpeechProb: number;
}

export const speechRecognitionModelType: ModelType = {
  async load(descriptor, ctx) {
    const whisper = await Whisper.load(descriptor, ctx.lib, ctx.device, ctx.othersComing);
    return {
      contextSize: whisper.maxTargetPositions,
      run: (job, hooks) => {
        if (job.kind !== 'transcribe') return Promise.reject(wrongKind(job, 'speech-recognition'));
        return whisper.transcribe(job, hooks);
      },
      poke: () => whisper.encoder.poke(),
      stats: () => ({ ...whisper.encoder.stats }),
      dispose: () => whisper.dispose(),
    };
  },
};

class Whisper {
  readonly encoder: DynamicBatcher<Tensor, Tensor>;
  readonly maxTargetPositions: number;
  private readonly timestampBegin: number;
  private readonly languages: Map<string, number>;
  /** Word timestamps need the decoder's cross-attentions (a `_timestamped` export) and alignment heads. */
  private readonly wordTimestamps: boolean;

  private constructor(
    private readonly descriptor: OnnxModelDescriptor,
    private readonly speech: SpeechOptions,
    private readonly lib: TransformersModule,
    private readonly model: WhisperModel,
    private readonly tokenizer: WhisperTokenizer,
    private readonly features: FeatureExtractor,
    private readonly gen: WhisperGenerationConfig,
    private readonly ffmpeg: boolean,
    othersComing: () => boolean,
  ) {
    this.maxTargetPositions = model.config.max_target_positions ?? gen.max_length ?? 448;
    this.timestampBegin = gen.no_timestamps_token_id + 1;
    this.languages = new Map(Object.entries(gen.lang_to_id ?? {}).map(([token, id]) => [token.slice(2, -2), id]));
    const outputs = (model.sessions.decoder_model_merged as unknown as { outputNames?: string[] } | undefined)?.outputNames ?? [];
    this.wordTimestamps = (gen.alignment_heads?.length ?? 0) > 0 && outputs.some((n) => n.startsWith('cross_attentions'));
    hookForward(model);
    this.encoder = new DynamicBatcher((batch) => this.encode(batch), {
      maxBatch: descriptor.maxBatch,
      maxWaitMs: descriptor.batchWaitMs,
      othersComing,
    });
  }

  static async load(d: OnnxModelDescriptor, lib: TransformersModule, device: 'cpu' | 'cuda', othersComing: () => boolean): Promise<Whisper> {
    const speech = d.speech;
    if (!speech) throw new Error(`the model '${d.name}' has no speech options`);
    const gen = JSON.parse(readFileSync(join(d.path, 'generation_config.json'), 'utf8')) as WhisperGenerationConfig;
    if (typeof gen.no_timestamps_token_id !== 'number') throw new Error(`${d.path}/generation_config.json has no no_timestamps_token_id (not a Whisper model?)`);
    const local = { local_files_only: true };
    const [features, tokenizer, model, probe] = await Promise.all([
      lib.AutoFeatureExtractor.from_pretrained(d.path, local),
      lib.AutoTokenizer.from_pretrained(d.path, local),
      lib.WhisperForConditionalGeneration.from_pretrained(d.path, {
        ...local,
        dtype: speech.dtype,
        device,
        session_options: { intraOpNumThreads: d.threads, interOpNumThreads: 1 },
      }),
      probeFfmpeg(),
    ]);
    log.info(describeFfmpeg(probe), { model: d.name });
    return new Whisper(
      d,
      speech,
      lib,
      model as unknown as WhisperModel,
      tokenizer as unknown as WhisperTokenizer,
      features as unknown as FeatureExtractor,
      gen,
      probe.available,
      othersComing,
    );
  }

  async dispose(): Promise<void> {
    this.encoder.close(new Error('the model was unloaded'));
    await this.model.dispose();
  }

  async transcribe(job: TranscribeJobData, hooks: JobHooks): Promise<TranscribeResult> {
    const { signal } = hooks;
    const language = this.checkRequest(job);
    const audio = await decodeAudio(Buffer.from(job.audio, 'base64'), { signal, maxDurationS: this.speech.maxDurationS, ffmpeg: this.ffmpeg });
    hooks.joined();
    const samples = audio.samples;
    const contentFrames = Math.ceil(samples.length / HOP);
    const promptTokens = job.prompt ? this.textTokens(` ${job.prompt.trim()}`) : [];
    // Text so far conditions the next window (OpenAI's condition_on_previous_text).
    let previous: number[] = [...promptTokens];
    let detected = language;
    const segments: TranscriptSegment[] = [];
    const words: TranscriptWord[] = [];
    let outputTokens = 0;
    let text = '';
    let seek = 0;

    while (seek < contentFrames) {
      signal.throwIfAborted();
      const segmentFrames = Math.min(WINDOW_SAMPLES / HOP, contentFrames - seek);
      const timeOffset = seek / FRAMES_PER_SECOND;
      const { input_features: features } = await this.features(samples.subarray(seek * HOP, seek * HOP + WINDOW_SAMPLES));
      const [hidden] = await this.encoder.submit([features]);
      signal.throwIfAborted();
      // Only an unknown language costs a decoder step of its own (about one encoder run's worth on
      // whisper-base: the step computes the cross-attention keys); no_speech_prob comes with the decode.
      detected ??= this.detectLanguage(await this.sotStep(features, hidden));
      const init = this.initTokens(job.task, detected, previous);
      const decode = await this.decodeWithFallback(job, features, hidden, init, timeOffset, segmentFrames, signal);
      if (decode === 'silent') {
        seek += segmentFrames;
        continue;
      }
      const split = splitWindow(decode.tokens, this.timestampBegin, timeOffset, segmentFrames);
      for (const piece of split.segments) {
        const segment = this.segment(segments.length, seek, clipSegment(piece, audio.durationS), decode);
        if (segment.text.trim() === '') continue;
        segments.push(segment);
        outputTokens += piece.tokens.filter((t) => t < this.gen.eos_token_id).length;
        const delta = text === '' ? segment.text.trimStart() : segment.text;
        text += delta;
        if (job.stream && delta !== '') hooks.delta(delta);
        if (job.words && decode.times) words.push(...this.words(piece, decode));
      }
      const kept = split.segments.flatMap((s) => s.tokens).filter((t) => t < this.gen.eos_token_id);
      // Only the last half context is ever sent (initTokens), so a long file keeps no more than that.
      previous = decode.temperature > 0.5 ? [] : [...previous, ...kept].slice(-this.promptRoom());
      seek += split.advance;
    }
    return {
      kind: 'transcribe',
      text,
      language: detected ?? 'en',
      durationS: audio.durationS,
      segments,
      ...(job.words ? { words } : {}),
      outputTokens,
      promptTokens: promptTokens.length,
      audioTokens: Math.ceil(audio.durationS * FRAMES_PER_SECOND / INPUT_STRIDE),
    };
  }

  /** 400s for what this model cannot do, before any decoding; the language code to force, if any. */
  private checkRequest(job: TranscribeJobData): string | undefined {
    const multilingual = this.gen.is_multilingual === true;
    if (job.language !== undefined) {
      const code = whisperLanguageCode(job.language);
      if (!code || (multilingual && !this.languages.has(code))) {
        throw Rejection.badRequest(`Unsupported language '${job.language}'; use an ISO-639-1 code Whisper knows (e.g. 'en', 'de').`, 'language', 'unsupported_language');
      }
      if (!multilingual && code !== 'en') {
        throw Rejection.badRequest(`The model '${this.descriptor.name}' is English-only and cannot transcribe '${job.language}'.`, 'language', 'unsupported_language');
      }
      return multilingual ? code : undefined;
    }
    if (job.words && !this.wordTimestamps) {
      throw Rejection.badRequest(
        `The model '${this.descriptor.name}' cannot give word timestamps: its decoder has no cross-attention outputs or its generation config no alignment_heads (use a "_timestamped" export).`,
        'timestamp_granularities',
        'unsupported_value',
      );
    }
    if (job.task === 'translate' && !multilingual) {
      throw Rejection.badRequest(`The model '${this.descriptor.name}' is English-only and cannot translate.`, 'model', 'model_not_supported');
    }
    return multilingual ? undefined : 'en';
  }

  /** [B, 80, 3000] features → one [1, 1500, d] hidden state per input, in one encoder run. */
  private async encode(batch: Tensor[]): Promise<Tensor[]> {
    const [, mels, frames] = batch[0].dims;
    const size = mels * frames;
    const data = new Float32Array(batch.length * size);
    batch.forEach((t, i) => data.set(t.data as Float32Array, i * size));
    const input = new this.lib.Tensor('float32', data, [batch.length, mels, frames]);
    const out = await this.model.sessions.model.run({ input_features: (input as unknown as { ort_tensor: unknown }).ort_tensor });
    const hidden = new this.lib.Tensor(out.last_hidden_state as never);
    const [, positions, width] = hidden.dims;
    const rowSize = positions * width;
    const all = hidden.data as Float32Array;
    return batch.map((_, i) => new this.lib.Tensor('float32', all.slice(i * rowSize, (i + 1) * rowSize), [1, positions, width]));
  }

  /** Logits at <|startoftranscript|> for language detection, from one decoder step. */
  private async sotStep(features: Tensor, hidden: Tensor): Promise<Float32Array> {
    const capture = new LogitsCapture(this.lib);
    await this.model.generate({
      inputs: features,
      encoder_outputs: hidden,
      decoder_input_ids: [this.gen.decoder_start_token_id],
      max_new_tokens: 1,
      return_timestamps: false,
      // Raw logits, as the reference's detect_language reads them (no suppression, no begin rules).
      suppress_tokens: null,
      begin_suppress_tokens: null,
      logits_processor: capture.list(),
    });
    return capture.first ?? new Float32Array(0);
  }

  private detectLanguage(logits: Float32Array): string {
    if (this.gen.is_multilingual !== true) return 'en';
    let best = 'en';
    let bestLogit = -Infinity;
    for (const [code, id] of this.languages) {
      if (logits[id] > bestLogit) {
        bestLogit = logits[id];
        best = code;
      }
    }
    return best;
  }

  private noSpeechProb(logits: Float32Array): number {
    // <|nospeech|> (<|nocaptions|> in older vocabularies) sits right before <|notimestamps|> in
    // every Whisper vocabulary, multilingual or English-only.
    const id = this.gen.no_timestamps_token_id - 1;
    if (id >= logits.length) return 0;
    return Math.exp(logSoftmaxAt(logits, id));
  }

  /** <|startofprev|> + the last text (half the context at most), then the task's start tokens. */
  private initTokens(task: TranscribeJobData['task'], language: string | undefined, previous: number[]): number[] {
    const init: number[] = [];
    if (previous.length && this.gen.prev_sot_token_id !== undefined) {
      init.push(this.gen.prev_sot_token_id, ...previous.slice(-this.promptRoom()));
    }
    init.push(this.gen.decoder_start_token_id);
    if (this.gen.is_multilingual === true) {
      const lang = this.languages.get(language ?? 'en');
      if (lang !== undefined) init.push(lang);
      const taskId = this.gen.task_to_id?.[task];
      if (taskId !== undefined) init.push(taskId);
    }
    return init;
  }

  private async decodeWithFallback(
    job: TranscribeJobData,
    features: Tensor,
    hidden: Tensor,
    init: number[],
    timeOffset: number,
    segmentFrames: number,
    signal: AbortSignal,
  ): Promise<WindowDecode | 'silent'> {
    const temperatures = job.temperature > 0 ? [job.temperature] : this.speech.temperatureFallback;
    let decode: WindowDecode | undefined;
    for (const temperature of temperatures) {
      signal.throwIfAborted();
      decode = await this.decodeWindow(features, hidden, init, temperature, job.words, timeOffset, segmentFrames, signal);
      const verdict = judgeWindow(decode, this.speech);
      if (verdict.silent) return 'silent';
      if (!verdict.retry) break;
    }
    return decode!;
  }

  private async decodeWindow(
    features: Tensor,
    hidden: Tensor,
    init: number[],
    temperature: number,
    words: boolean,
    timeOffset: number,
    segmentFrames: number,
    signal: AbortSignal,
  ): Promise<WindowDecode> {
    const capture = new LogitsCapture(this.lib, temperature);
    const wordTimes = words && this.wordTimestamps;
    let sotLogits: Float32Array | undefined;
    const sotAt = init.lastIndexOf(this.gen.decoder_start_token_id);
    const onForward = (out: { logits?: Tensor }): void => {
      // The first forward runs every init token: its logits at <|startoftranscript|>, raw, as the reference reads them.
      const logits = out.logits;
      if (sotLogits || !logits || logits.dims[1] !== init.length) return;
      const vocab = logits.dims[2];
      sotLogits = (logits.data as Float32Array).slice(sotAt * vocab, (sotAt + 1) * vocab);
    };
    const outputs = (await FORWARD_HOOK.run(onForward, () => this.model.generate({
      inputs: features,
      encoder_outputs: hidden,
      decoder_input_ids: init,
      return_timestamps: true,
      max_new_tokens: Math.max(1, this.maxTargetPositions - init.length),
      do_sample: temperature > 0,
      temperature: temperature > 0 ? temperature : 1,
      top_k: 0,
      logits_processor: capture.list(),
      stopping_criteria: abortCriteria(this.lib, signal),
      ...(wordTimes ? { return_token_timestamps: true } : {}),
    }))) as Tensor | { sequences: Tensor };
    signal.throwIfAborted();
    const sequences = 'sequences' in outputs ? outputs.sequences : outputs;
    const all = (sequences.tolist() as Array<Array<bigint | number>>)[0].map(Number);
    capture.finish(all.at(-1)!);
    let tokens = all.slice(init.length);
    let times: number[] | undefined;
    if (wordTimes) {
      const stamps = this.model._extract_token_timestamps(outputs, this.gen.alignment_heads!, Math.floor(segmentFrames / INPUT_STRIDE), TIME_PRECISION, init.length);
      times = ((stamps.tolist() as number[][])[0] ?? []).slice(init.length).map((t) => t + timeOffset);
    }
    if (tokens.at(-1) === this.gen.eos_token_id) {
      tokens = tokens.slice(0, -1);
      times = times?.slice(0, tokens.length + 1);
    }
    const text = this.tokenizer.decode(tokens.filter((t) => t < this.gen.eos_token_id), { skip_special_tokens: true });
    return {
      tokens,
      times,
      temperature,
      avgLogprob: capture.sum / Math.max(1, capture.count),
      compressionRatio: compressionRatio(text),
      noSpeechProb: sotLogits ? this.noSpeechProb(sotLogits) : 0,
    };
  }

  private segment(id: number, seek: number, piece: WindowSegment, decode: WindowDecode): TranscriptSegment {
    return {
      id,
      seek,
      start: piece.start,
      end: piece.end,
      text: this.tokenizer.decode(piece.tokens.filter((t) => t < this.gen.eos_token_id), { skip_special_tokens: true }),
      tokens: piece.tokens,
      temperature: decode.temperature,
      avg_logprob: decode.avgLogprob,
      compression_ratio: decode.compressionRatio,
      no_speech_prob: decode.noSpeechProb,
    };
  }

  /** The segment's text tokens with their DTW times (each ends where the next starts), as words. */
  private words(piece: WindowSegment, decode: WindowDecode): TranscriptWord[] {
    const times = decode.times!;
    const base = decode.tokens.indexOf(piece.tokens[0]);
    const timed: TimedToken[] = [];
    piece.tokens.forEach((token, i) => {
      if (token >= this.gen.eos_token_id) return;
      const at = base + i;
      const start = clamp(times[at] ?? piece.start, piece.start, piece.end);
      const end = clamp(times[at + 1] ?? piece.end, start, piece.end);
      timed.push({ text: this.tokenizer.decode([token], { skip_special_tokens: true }), start: round2(start), end: round2(end) });
    });
    return groupWords(timed);
  }

  /** Previous-text tokens a window's prompt holds: half the decoder's context, less <|startofprev|>. */
  private promptRoom(): number {
    return Math.floor(this.maxTargetPositions / 2) - 1;
  }

  private textTokens(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false });
  }
}

/**
 * Records the log probability of each chosen token under the processed logits (timestamp rules
 * and suppression applied, temperature undone), as the reference's avg_logprob, and the first
 * step's logits. It runs last among the processors; a step's choice is seen at the next step.
 */
class LogitsCapture {
  sum = 0;
  count = 0;
  first: Float32Array | undefined;
  private last: Float32Array | undefined;

  constructor(
    private readonly lib: TransformersModule,
    private readonly temperature = 0,
  ) {}

  list(): unknown {
    const list = new this.lib.LogitsProcessorList();
    // transformers.js processors are Callable objects (calling one runs its _call): subclass its base.
    const Base = this.lib.LogitsProcessor as unknown as new () => object;
    const step = (ids: bigint[][], logits: Tensor): Tensor => this.step(ids, logits);
    class Capture extends Base {
      _call(ids: bigint[][], logits: Tensor): Tensor {
        return step(ids, logits);
      }
    }
    list.push(new Capture() as never);
    return list;
  }

  private step(ids: bigint[][], logits: Tensor): Tensor {
    const row = logits.data as Float32Array;
    const copy = this.temperature > 0 ? row.map((x) => x * this.temperature) : row.slice();
    if (this.last) this.add(Number(ids[0].at(-1)));
    this.first ??= copy;
    this.last = copy;
    return logits;
  }

  /** Adds the final step's choice. */
  finish(token: number): void {
    if (this.last) this.add(token);
    this.last = undefined;
  }

  private add(token: number): void {
    this.sum += logSoftmaxAt(this.last!, token);
    this.count++;
  }
}

/**
 * transformers.js' generate shows the processors only the last position's logits; the decode's
 * first forward also has the logits at <|startoftranscript|> (no_speech_prob). The model is shared
 * by concurrent jobs, so each generate names its own listener through async context.
 */
type ForwardListener = (out: { logits?: Tensor }) => void;
const FORWARD_HOOK = new AsyncLocalStorage<ForwardListener>();

function hookForward(model: WhisperModel): void {
  const target = model as unknown as { forward: (inputs: unknown) => Promise<{ logits?: Tensor }> };
  const forward = target.forward.bind(model);
  target.forward = async (inputs) => {
    const out = await forward(inputs);
    FORWARD_HOOK.getStore()?.(out);
    return out;
  };
}

/** Stops a window's decode between tokens when the job's signal aborts. */
function abortCriteria(lib: TransformersModule, signal: AbortSignal): unknown {
  const list = new lib.StoppingCriteriaList();
  const Base = lib.StoppingCriteria as unknown as new () => object;
  class Aborted extends Base {
    _call(ids: unknown[]): boolean[] {
      return ids.map(() => signal.aborted);
    }
  }
  list.push(new Aborted() as never);
  return list;
}

function logSoftmaxAt(logits: Float32Array, index: number): number {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  return logits[index] - max - Math.log(sum);
}

/** A timestamp token past the end of the audio (the window is padded with silence) ends at the end. */
function clipSegment(piece: WindowSegment, durationS: number): WindowSegment {
  const end = round2(Math.min(piece.end, durationS));
  return { ...piece, start: Math.min(piece.start, end), end };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
