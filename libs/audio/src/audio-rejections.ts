/**
 * The refusals an upload can get while it is decoded, each a 400 on `file` (OpenAI's param for the
 * upload): one place for their codes and wording, so the WAV and ffmpeg paths say the same thing.
 */
import { Rejection } from '@switchyard/runtime';
import { SUPPORTED_EXTENSIONS, type AudioFormat } from './audio-format';

/** Codes a client can branch on. */
export const AUDIO_ERROR_CODES = {
  /** Recognised (or empty) but not decodable: corrupt, truncated, no audio stream, no samples. */
  invalid: 'invalid_audio',
  /** Not a container we decode, or one that needs ffmpeg where none is installed. */
  unsupported: 'unsupported_audio_format',
  /** Longer than the configured maximum duration. */
  tooLong: 'audio_too_long',
} as const;

const PARAM = 'file';

export function invalidAudio(message: string): Rejection {
  return Rejection.badRequest(message, PARAM, AUDIO_ERROR_CODES.invalid);
}

export function emptyAudioFile(): Rejection {
  return invalidAudio('The audio file is empty.');
}

export function unsupportedAudio(looksLike: string | null): Rejection {
  const what = looksLike ? ` (it looks like ${looksLike})` : '';
  return Rejection.badRequest(
    `Invalid file format${what}. Supported formats: ${SUPPORTED_EXTENSIONS.map((e) => `'${e}'`).join(', ')}.`,
    PARAM,
    AUDIO_ERROR_CODES.unsupported,
  );
}

/**
 * A 400, not a 503: the client can send WAV right away, and a 5xx would make the SDKs retry a request
 * that cannot succeed until an operator installs ffmpeg.
 */
export function ffmpegNeeded(format: AudioFormat | string): Rejection {
  return Rejection.badRequest(
    `This server cannot decode ${format} audio: ffmpeg is not installed where the model runs. Send WAV audio instead.`,
    PARAM,
    AUDIO_ERROR_CODES.unsupported,
  );
}

export function audioTooLong(maxDurationS: number): Rejection {
  return Rejection.badRequest(`The audio is longer than the ${formatSeconds(maxDurationS)} this server accepts.`, PARAM, AUDIO_ERROR_CODES.tooLong);
}

function formatSeconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}
