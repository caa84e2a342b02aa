/**
 * Text to speech on sherpa-onnx (VITS and Piper voices, Kokoro, Matcha, Kitten): the input is split
 * at sentence boundaries, each piece synthesized off the event loop (sherpa's generateAsync runs on
 * libuv's pool) and encoded into the asked format as it comes (libs/audio's streaming encoders),
 * so the first audio leaves after the first sentence, not after the whole text. The next piece is
 * synthesized while the previous one is encoded and sent; a client that leaves stops it between
 * pieces. Pieces of all jobs on one model take turns on the engine, so concurrent requests each
 * get their first audio soon instead of one waiting for another's whole text.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { voiceSpeaker, type OnnxModelDescriptor, type SpeechJobData, type SpeechResult, type VoiceOptions } from '@switchyard/contracts';
import { createSpeechEncoder, FfmpegPool, ffmpegHasMp3, probeFfmpeg, speechFormatNeedsFfmpeg, splitSpeechText, type SpeechEncoder } from '@switchyard/audio';
import { Logger, Rejection } from '@switchyard/runtime';
import { sherpaOnnx, type SherpaOfflineTts, type SherpaTtsConfig } from '../sherpa-onnx';
import { wrongKind, type JobHooks, type ModelType, type ServedModel } from './model-type';

const log = new Logger('onnx-worker.voice');

/** espeak-ng data where Debian and most distributions install it (phoneme voices need one). */
const SYSTEM_ESPEAK_DATA = ['/usr/lib/x86_64-linux-gnu/espeak-ng-data', '/usr/lib/aarch64-linux-gnu/espeak-ng-data', '/usr/share/espeak-ng-data', '/usr/lib/espeak-ng-data'];

/** Text pieces: the first short, so its audio comes soon; the rest sentence-sized. */
const FIRST_PIECE_CHARS = 120;
const PIECE_CHARS = 300;

/** Usage counts output audio as transcription usage does: 50 tokens per second. */
const AUDIO_TOKENS_PER_SECOND = 50;

/**
 * Bytes an encoder gives within one piece are sent as one `delta` (an mp3 encoder calls back per
 * frame): at most this long after the first of them.
 */
const COALESCE_MS = 5;

/** A piece's audio goes to the encoder in slices this long (about 10 ms of resampling each here). */
const ENCODE_SLICE_S = 1;

/** The folder's model file: the one named, else model.onnx, else its only .onnx file besides the vocoder. */
function modelFile(d: OnnxModelDescriptor, voice: VoiceOptions): string {
  if (d.file) return join(d.path, d.file);
  if (existsSync(join(d.path, 'model.onnx'))) return join(d.path, 'model.onnx');
  const onnx = readdirSync(d.path).filter((f) => f.endsWith('.onnx') && f !== voice.vocoder);
  if (onnx.length !== 1) {
    throw new Error(`the voice folder ${d.path} has ${onnx.length === 0 ? 'no .onnx file' : `several .onnx files (${onnx.join(', ')})`}; name the model in 'file'`);
  }
  return join(d.path, onnx[0]);
}

function required(dir: string, file: string, what: string): string {
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`the voice's ${what} ${path} does not exist`);
  return path;
}

/** espeak-ng data: as configured, else the folder's (sherpa's voice packages carry one), else the system's. */
function espeakData(d: OnnxModelDescriptor, voice: VoiceOptions): string | undefined {
  if (voice.dataDir) return voice.dataDir;
  const own = join(d.path, 'espeak-ng-data');
  if (existsSync(own)) return own;
  return SYSTEM_ESPEAK_DATA.find((dir) => existsSync(dir));
}

/**
 * Whether the voice speaks phonemes from espeak-ng: Kokoro and Kitten always; a VITS or Matcha
 * voice without a lexicon when its token table holds IPA symbols (a Piper voice), not when it is a
 * plain character table. sherpa-onnx exits the whole process when such a voice has no espeak-ng
 * data, so this is checked before it loads.
 */
export function voiceNeedsEspeak(engine: VoiceOptions['engine'], tokensPath: string, hasLexicon: boolean): boolean {
  if (engine === 'kokoro' || engine === 'kitten') return true;
  if (hasLexicon) return false;
  const symbols = readFileSync(tokensPath, 'utf8')
    .split('\n')
    .map((line) => line.replace(/\s+\d+\s*$/, ''));
  return symbols.some((s) => /[\u0250-\u02ff]/.test(s));
}

/** sherpa's config for the descriptor's engine, with every file checked to exist. */
export function sherpaConfig(d: OnnxModelDescriptor, voice: VoiceOptions, device: 'cpu' | 'cuda'): SherpaTtsConfig {
  const model = modelFile(d, voice);
  if (!existsSync(model)) throw new Error(`the voice model ${model} does not exist`);
  const tokens = required(d.path, voice.tokens, 'token table');
  const dataDir = espeakData(d, voice);
  const lexiconFile = voice.lexicon ?? (existsSync(join(d.path, 'lexicon.txt')) ? 'lexicon.txt' : undefined);
  const lexicon = lexiconFile ? { lexicon: required(d.path, lexiconFile, 'lexicon') } : {};
  if (!dataDir && voiceNeedsEspeak(voice.engine, tokens, lexiconFile !== undefined)) {
    throw new Error(
      `the voice ${d.name} speaks espeak-ng phonemes and no espeak-ng data was found (its folder's espeak-ng-data/, the models file's data_dir, or the system's: Debian apt-get install espeak-ng-data)`,
    );
  }
  const espeak = dataDir ? { dataDir } : {};
  const common = { numThreads: d.threads, provider: device, debug: false };
  switch (voice.engine) {
    case 'vits':
      return { model: { vits: { model, tokens, ...espeak, ...lexicon }, ...common }, maxNumSentences: 1 };
    case 'kokoro':
      return { model: { kokoro: { model, voices: required(d.path, voice.voicesFile ?? 'voices.bin', 'voices file'), tokens, ...espeak, ...lexicon }, ...common }, maxNumSentences: 1 };
    case 'kitten':
      return { model: { kitten: { model, voices: required(d.path, voice.voicesFile ?? 'voices.bin', 'voices file'), tokens, ...espeak }, ...common }, maxNumSentences: 1 };
    case 'matcha':
      if (!voice.vocoder) throw new Error(`the matcha voice ${d.name} needs 'vocoder' (its vocoder ONNX file)`);
      return { model: { matcha: { acousticModel: model, vocoder: required(d.path, voice.vocoder, 'vocoder'), tokens, ...espeak, ...lexicon }, ...common }, maxNumSentences: 1 };
  }
}

/** Collects an encoder's output and sends it as few `delta` events as keep the audio flowing. */
class AudioSender {
  private parts: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  bytes = 0;

  constructor(private readonly send: (bytes: Buffer) => void) {}

  add(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.bytes += bytes.length;
    this.timer ??= setTimeout(() => this.flush(), COALESCE_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.parts.length === 0) return;
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    this.send(all);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.parts = [];
  }
}

class Voice implements ServedModel {
  readonly contextSize: number;
  /** The engine's turns: one piece at a time, in the order asked. */
  private turn: Promise<unknown> = Promise.resolve();
  private pieces = 0;
  private jobs = 0;
  private disposed = false;
  private readonly sliceSamples: number;
  /** Started ffmpeg processes, one per format in use: a request does not wait for ffmpeg's start. */
  private readonly ffmpegPool: FfmpegPool | undefined;

  constructor(
    private readonly descriptor: OnnxModelDescriptor,
    private readonly voice: VoiceOptions,
    private readonly tts: SherpaOfflineTts,
    private readonly ffmpeg: boolean,
    /** mp3 by ffmpeg's native LAME (about ten times lamejs's speed) when it has one. */
    private readonly mp3ViaFfmpeg: boolean,
  ) {
    this.contextSize = voice.maxInputChars;
    this.sliceSamples = Math.max(1, Math.round(tts.sampleRate * ENCODE_SLICE_S));
    this.ffmpegPool = ffmpeg ? new FfmpegPool() : undefined;
  }

  async run(job: Parameters<ServedModel['run']>[0], hooks: JobHooks): Promise<SpeechResult> {
    if (job.kind !== 'speech') throw wrongKind(job, 'text-to-speech');
    hooks.joined();
    const sid = this.speaker(job);
    if (speechFormatNeedsFfmpeg(job.format) && !this.ffmpeg) {
      throw Rejection.badRequest(`The response_format '${job.format}' needs ffmpeg, which this worker does not have; use mp3, wav or pcm.`, 'response_format', 'unsupported_response_format');
    }
    const pieces = splitSpeechText(job.input, { firstMaxChars: FIRST_PIECE_CHARS, maxChars: PIECE_CHARS });
    if (pieces.length === 0) throw Rejection.badRequest('The input has no text to speak.', 'input', 'empty_input');
    this.jobs++;
    const sender = new AudioSender(hooks.audio);
    // The first piece is synthesized while the encoder (an ffmpeg process, maybe) starts.
    let next = this.synthesize(pieces[0], sid, job.speed);
    let encoder: SpeechEncoder | undefined;
    let samples = 0;
    try {
      encoder = await createSpeechEncoder({ format: job.format, inputRate: this.tts.sampleRate, onData: (b) => sender.add(b), mp3ViaFfmpeg: this.mp3ViaFfmpeg, ffmpegPool: this.ffmpegPool });
      for (let i = 0; i < pieces.length; i++) {
        const audio = await next;
        hooks.signal.throwIfAborted();
        // The engine makes the next piece while this one is encoded and sent: let it start (its
        // turn begins in a later tick) before the encoder's synchronous work holds this thread.
        if (i + 1 < pieces.length) {
          next = this.synthesize(pieces[i + 1], sid, job.speed);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        samples += audio.length;
        // In slices, each sent when encoded: the first bytes leave after a slice's work, not the piece's.
        for (let at = 0; at < audio.length; at += this.sliceSamples) {
          await encoder.push(audio.subarray(at, at + this.sliceSamples));
          sender.flush();
        }
      }
      await encoder.end();
      sender.flush();
    } catch (err) {
      // A piece still in flight fails or finishes unread.
      next.catch(() => undefined);
      encoder?.destroy();
      sender.close();
      throw err;
    } finally {
      this.jobs--;
    }
    const durationS = samples / this.tts.sampleRate;
    return {
      kind: 'speech',
      format: job.format,
      durationS,
      bytes: sender.bytes,
      chunks: pieces.length,
      inputTokens: [...job.input].length,
      outputTokens: Math.ceil(durationS * AUDIO_TOKENS_PER_SECOND),
    };
  }

  /** The request's voice as a speaker id of this model, or the 400 naming what it has. */
  private speaker(job: SpeechJobData): number {
    const n = this.tts.numSpeakers;
    const sid = voiceSpeaker(job.voice, this.voice, n);
    if (sid === undefined) {
      throw Rejection.badRequest(`The voice '${job.voice}' is not a voice of '${this.descriptor.name}'; GET /v1/audio/voices lists them.`, 'voice', 'invalid_voice');
    }
    if (sid >= Math.max(1, n)) {
      throw Rejection.badRequest(`The voice '${job.voice}' is speaker ${sid}, and '${this.descriptor.name}' has ${n} speaker${n === 1 ? '' : 's'} (ids 0-${Math.max(0, n - 1)}).`, 'voice', 'invalid_voice');
    }
    return sid;
  }

  /** One piece on the engine, after the pieces asked before it (of any job). */
  private synthesize(text: string, sid: number, speed: number): Promise<Float32Array> {
    const run = this.turn.then(async () => {
      if (this.disposed) throw new Error('the voice model was unloaded');
      this.pieces++;
      const audio = await this.tts.generateAsync({ text, sid, speed });
      return audio.samples;
    });
    // A failed piece fails its job only; the next in line still gets its turn.
    this.turn = run.catch(() => undefined);
    return run;
  }

  poke(): void {}

  stats(): { runs: number; items: number; largest: number } {
    return { runs: this.pieces, items: this.pieces, largest: this.jobs > 0 ? 1 : 0 };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.ffmpegPool?.close();
    // sherpa frees the engine when it is collected; wait for the piece in flight to finish with it.
    await this.turn;
  }
}

export const textToSpeechModelType: ModelType = {
  async load(d: OnnxModelDescriptor, ctx): Promise<ServedModel> {
    const voice = d.voice;
    if (!voice) throw new Error(`the text-to-speech model ${d.name} has no voice options`);
    const [tts, probe, mp3] = await Promise.all([sherpaOnnx().OfflineTts.createAsync(sherpaConfig(d, voice, ctx.device)), probeFfmpeg(), ffmpegHasMp3()]);
    if (tts.sampleRate <= 0) throw new Error(`the voice model ${d.name} reports no sample rate`);
    log.info(`voice loaded: ${tts.numSpeakers} speaker(s) at ${tts.sampleRate} Hz`, { model: d.name, engine: voice.engine });
    if (!probe.available) {
      log.warn(`ffmpeg not usable at '${probe.path}' (${probe.error ?? 'unknown'}): mp3, wav and pcm work, opus, aac and flac get a 400; install ffmpeg (Debian: apt-get install ffmpeg)`, { model: d.name });
    }
    return new Voice(d, voice, tts, probe.available, probe.available && mp3 && process.env.SPEECH_MP3_ENCODER !== 'lamejs');
  },
};
