/**
 * Speech to text: the job the gateway queues for /v1/audio/transcriptions and /translations, and
 * the worker's neutral transcript it answers with. The gateway alone turns a transcript into
 * OpenAI's response formats (libs/audio's formatter); the worker alone decodes the file.
 */

export type TranscriptTask = 'transcribe' | 'translate';

/** One decoded segment, with OpenAI's field names (as verbose_json carries them). */
export interface TranscriptSegment {
  id: number;
  /** Where the 30 s window this segment came from starts, in mel frames (10 ms). */
  seek: number;
  start: number;
  end: number;
  text: string;
  tokens: number[];
  temperature: number;
  avg_logprob: number;
  compression_ratio: number;
  no_speech_prob: number;
}

export interface TranscriptWord {
  word: string;
  start: number;
  end: number;
}

/** The worker's result for one request. */
export interface Transcript {
  text: string;
  /** A code ("en"), a name ("english") or a token ("<|en|>"); written as Whisper's name. */
  language: string;
  durationS: number;
  segments: TranscriptSegment[];
  words?: TranscriptWord[];
}

export interface TranscribeJobData {
  kind: 'transcribe';
  /** Model name as configured (aliases already resolved). */
  model: string;
  /** Epoch ms when the gateway enqueued the job. */
  enqueuedAt: number;
  task: TranscriptTask;
  /** The uploaded file as the client sent it, base64 (the worker sniffs and decodes it). */
  audio: string;
  /** The upload's file name, for messages only. */
  filename?: string;
  /** ISO-639-1 code; absent: detected from the first 30 s. */
  language?: string;
  /** Previous-text conditioning (Whisper's <|startofprev|> prompt). */
  prompt?: string;
  /** 0: greedy with OpenAI's fallback to higher temperatures; above 0: sampled at it, no fallback. */
  temperature: number;
  /** Word timestamps (costs the decoder's cross-attentions). */
  words: boolean;
  /** Send each finished segment's text as a `delta` event before the result. */
  stream: boolean;
}

export interface TranscribeResult extends Transcript {
  kind: 'transcribe';
  /** The language actually used (code), detected or as asked. */
  language: string;
  /** Text tokens decoded, and the prompt's tokens (OpenAI's usage on streamed transcriptions). */
  outputTokens: number;
  promptTokens: number;
  /** Encoder positions the audio took (50 per second of audio windows): usage's audio_tokens. */
  audioTokens: number;
}
