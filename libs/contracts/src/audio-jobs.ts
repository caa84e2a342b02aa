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

/** Text to speech: OpenAI's response formats (every one 24 kHz mono, as OpenAI sends them). */
export type SpeechFormat = 'mp3' | 'opus' | 'aac' | 'flac' | 'wav' | 'pcm';

export interface SpeechJobData {
  kind: 'speech';
  model: string;
  enqueuedAt: number;
  /** The text to speak (at most the model's input limit, checked by the gateway). */
  input: string;
  /** The voice as the request named it (an OpenAI name, one of the model's, or a speaker id); the worker maps it to a speaker. */
  voice: string;
  /** 0.25 .. 4 (1: the voice's own pace). */
  speed: number;
  format: SpeechFormat;
  /** Style instructions; passed on for engines that take them (none of today's do). */
  instructions?: string;
}

/**
 * The worker's answer after the audio (sent as `delta` events with `audio`, encoded in `format`,
 * in order): how much it made, for usage and logs.
 */
export interface SpeechResult {
  kind: 'speech';
  format: SpeechFormat;
  /** Seconds of audio produced. */
  durationS: number;
  /** Encoded bytes sent in the deltas. */
  bytes: number;
  /** Text pieces synthesized one after another (sentences). */
  chunks: number;
  /** usage: the input's characters (the engines tokenize internally and do not say). */
  inputTokens: number;
  /** usage: audio tokens at 50 per second of output, as transcription usage counts audio. */
  outputTokens: number;
}
