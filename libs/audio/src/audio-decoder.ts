/**
 * Turns an uploaded audio file into what Whisper takes: 16 kHz mono float32 samples. WAV is decoded
 * in-process (and resampled with the band-limited resampler); everything else goes through ffmpeg.
 * Every way an upload can be bad ends as a Rejection (400 on `file`); an abort rejects with the
 * signal's reason, so the caller can tell a cancelled job from a bad file.
 */
import { sniffAudioFormat, type AudioFormat } from './audio-format';
import { audioTooLong, emptyAudioFile, ffmpegNeeded, invalidAudio, unsupportedAudio } from './audio-rejections';
import { decodeWithFfmpeg } from './ffmpeg-decoder';
import { resampleYielding } from './resampler';
import { decodeWavMono, parseWav } from './wav-decoder';

/** Whisper's input rate. */
export const WHISPER_SAMPLE_RATE = 16_000;

export const DEFAULT_MAX_DURATION_S = 7200;
export const DEFAULT_DECODE_TIMEOUT_MS = 120_000;

export interface DecodeAudioOptions {
  /** Stops the decode (and kills ffmpeg); the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Longest audio accepted, in seconds (default 2 h). At 16 kHz float32 one hour is 230 MB, so this
   * bounds memory for a small compressed file that would expand without end.
   */
  maxDurationS?: number;
  /** Wall-clock limit for one ffmpeg run (default 120 s). */
  timeoutMs?: number;
  /** The ffmpeg binary (default `ffmpeg` on PATH). */
  ffmpegPath?: string;
  /** Set false to refuse every non-WAV upload without trying ffmpeg (a worker whose probe failed). */
  ffmpeg?: boolean;
}

export interface DecodedAudio {
  /** Mono samples at 16 kHz, nominally in [-1, 1]. */
  samples: Float32Array;
  sampleRate: typeof WHISPER_SAMPLE_RATE;
  durationS: number;
  /** The container sniffed from the file's bytes. */
  sourceFormat: AudioFormat;
  /** Which decoder produced the samples. */
  decoder: 'wav' | 'ffmpeg';
}

/** Decodes an upload to 16 kHz mono; rejects with a Rejection for a bad file. */
export async function decodeAudio(bytes: Buffer, options: DecodeAudioOptions = {}): Promise<DecodedAudio> {
  options.signal?.throwIfAborted();
  const maxDurationS = options.maxDurationS ?? DEFAULT_MAX_DURATION_S;
  if (bytes.length === 0) throw emptyAudioFile();
  const sniffed = sniffAudioFormat(bytes);
  if (sniffed.kind === 'unknown') throw unsupportedAudio(sniffed.looksLike);
  const format = sniffed.format;
  let label: string = format;
  if (format === 'wav') {
    const parsed = parseWav(bytes);
    if (parsed.kind === 'wav') {
      const { info } = parsed;
      if (info.frames === 0) throw invalidAudio('The WAV file contains no audio samples.');
      // Checked before anything is allocated: the header alone says how long the audio is.
      if (info.frames / info.sampleRate > maxDurationS) throw audioTooLong(maxDurationS);
      const samples = await resampleYielding(decodeWavMono(bytes, info), info.sampleRate, WHISPER_SAMPLE_RATE, options.signal);
      return { samples, sampleRate: WHISPER_SAMPLE_RATE, durationS: info.frames / info.sampleRate, sourceFormat: 'wav', decoder: 'wav' };
    }
    // A WAV codec read only by ffmpeg (ADPCM, GSM, RIFX...): same path as other formats.
    label = `WAV (${parsed.reason})`;
  }
  if (options.ffmpeg === false) throw ffmpegNeeded(label);
  const samples = await decodeWithFfmpeg(bytes, format, {
    ffmpegPath: options.ffmpegPath ?? 'ffmpeg',
    sampleRate: WHISPER_SAMPLE_RATE,
    timeoutMs: options.timeoutMs ?? DEFAULT_DECODE_TIMEOUT_MS,
    maxDurationS,
    signal: options.signal,
    label,
  });
  if (samples.length === 0) throw invalidAudio('The audio file contains no audio samples.');
  return { samples, sampleRate: WHISPER_SAMPLE_RATE, durationS: samples.length / WHISPER_SAMPLE_RATE, sourceFormat: format, decoder: 'ffmpeg' };
}
