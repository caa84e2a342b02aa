/**
 * OpenAI's text-to-speech response formats: what each is sent as, and which need ffmpeg. Every
 * format is 24 kHz mono, as OpenAI's are (pcm is documented as raw 24 kHz 16-bit signed
 * little-endian samples).
 */
import type { SpeechFormat } from '@switchyard/contracts';

export const SPEECH_FORMATS: readonly SpeechFormat[] = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'];

/** OpenAI's output rate, for every format. */
export const SPEECH_OUTPUT_RATE = 24_000;

/**
 * The Content-Type of each format. opus is an Ogg Opus file, sent as `audio/ogg` (its registered
 * type, which browsers and players accept; Kokoro-FastAPI and speaches send the same family).
 */
const CONTENT_TYPES: Readonly<Record<SpeechFormat, string>> = {
  mp3: 'audio/mpeg',
  opus: 'audio/ogg',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};

export function speechContentType(format: SpeechFormat): string {
  return CONTENT_TYPES[format];
}

/** opus, aac and flac need ffmpeg; mp3 uses its LAME where there is one, else lamejs in process; wav and pcm are written here. */
export function speechFormatNeedsFfmpeg(format: SpeechFormat): boolean {
  return format === 'opus' || format === 'aac' || format === 'flac';
}
