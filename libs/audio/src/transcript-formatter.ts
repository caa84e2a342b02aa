/**
 * What the gateway writes for a finished transcription or translation, in each of OpenAI's
 * `response_format`s: json, text, srt, vtt and verbose_json, with OpenAI's content types. Pure
 * functions of the worker's neutral transcript, so every backend gets the same bytes.
 */
import type { Transcript, TranscriptSegment, TranscriptTask } from '@switchyard/contracts';
import { whisperLanguageName } from './whisper-languages';

export const TRANSCRIPT_FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt'] as const;
export type TranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

export const TIMESTAMP_GRANULARITIES = ['word', 'segment'] as const;
export type TimestampGranularity = (typeof TIMESTAMP_GRANULARITIES)[number];

export type { Transcript, TranscriptSegment, TranscriptTask, TranscriptWord } from '@switchyard/contracts';

export interface TranscriptFormatOptions {
  task: TranscriptTask;
  /** What verbose_json carries (default `['segment']`, as OpenAI): `segments` for 'segment', `words` for 'word'. */
  timestampGranularities?: readonly TimestampGranularity[];
  /** OpenAI's `usage: {type: 'duration', seconds}` on transcriptions' json and verbose_json (default true). */
  usage?: boolean;
}

export interface FormattedTranscript {
  contentType: string;
  body: string;
}

/** As OpenAI sends them: JSON for the two JSON formats, plain text for the rest. */
export const TRANSCRIPT_CONTENT_TYPES: Readonly<Record<TranscriptFormat, string>> = {
  json: 'application/json',
  verbose_json: 'application/json',
  text: 'text/plain; charset=utf-8',
  srt: 'text/plain; charset=utf-8',
  vtt: 'text/plain; charset=utf-8',
};

export function isTranscriptFormat(value: unknown): value is TranscriptFormat {
  return typeof value === 'string' && (TRANSCRIPT_FORMATS as readonly string[]).includes(value);
}

export function isTimestampGranularity(value: unknown): value is TimestampGranularity {
  return typeof value === 'string' && (TIMESTAMP_GRANULARITIES as readonly string[]).includes(value);
}

/** `HH:MM:SS,mmm` (srt) or `HH:MM:SS.mmm` (vtt), hours always written, rounded to the millisecond. */
export function formatTimestamp(seconds: number, decimalMarker: ',' | '.'): string {
  let ms = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0;
  const hours = Math.floor(ms / 3_600_000);
  ms -= hours * 3_600_000;
  const minutes = Math.floor(ms / 60_000);
  ms -= minutes * 60_000;
  const secs = Math.floor(ms / 1000);
  ms -= secs * 1000;
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return `${pad(hours, 2)}:${pad(minutes, 2)}:${pad(secs, 2)}${decimalMarker}${pad(ms, 3)}`;
}

function roundMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** OpenAI bills whisper-1 by whole seconds, rounded up. */
function durationUsage(durationS: number): { type: 'duration'; seconds: number } {
  return { type: 'duration', seconds: Math.ceil(roundMs(durationS)) };
}

/** The transcript's text as OpenAI returns it: no leading or trailing blank (segments keep theirs). */
function mainText(t: Transcript): string {
  return t.text.trim();
}

/** `json`: `{text}`, plus usage on transcriptions. */
export function transcriptJson(t: Transcript, o: TranscriptFormatOptions): Record<string, unknown> {
  const withUsage = o.task === 'transcribe' && o.usage !== false;
  return { text: mainText(t), ...(withUsage ? { usage: durationUsage(t.durationS) } : {}) };
}

/**
 * `verbose_json`: task, language (Whisper's name; always "english" for a translation), duration,
 * text, then `segments` and/or `words` as the granularities ask (words only on transcriptions).
 */
export function transcriptVerboseJson(t: Transcript, o: TranscriptFormatOptions): Record<string, unknown> {
  const granularities = o.timestampGranularities?.length ? o.timestampGranularities : ['segment'];
  const language = o.task === 'translate' ? 'english' : (whisperLanguageName(t.language) ?? t.language);
  const body: Record<string, unknown> = { task: o.task, language, duration: roundMs(t.durationS), text: mainText(t) };
  if (o.task === 'translate' || granularities.includes('segment')) body.segments = t.segments.map(segmentJson);
  if (o.task === 'transcribe' && granularities.includes('word')) body.words = (t.words ?? []).map((w) => ({ word: w.word, start: w.start, end: w.end }));
  if (o.task === 'transcribe' && o.usage !== false) body.usage = durationUsage(t.durationS);
  return body;
}

/** Only OpenAI's fields, in OpenAI's order, whatever else the worker attached. */
function segmentJson(s: TranscriptSegment): TranscriptSegment {
  return {
    id: s.id,
    seek: s.seek,
    start: s.start,
    end: s.end,
    text: s.text,
    tokens: s.tokens,
    temperature: s.temperature,
    avg_logprob: s.avg_logprob,
    compression_ratio: s.compression_ratio,
    no_speech_prob: s.no_speech_prob,
  };
}

/** `text`: the text and a newline. */
export function transcriptText(t: Transcript): string {
  return `${mainText(t)}\n`;
}

interface Cue {
  start: number;
  end: number;
  text: string;
}

/**
 * Subtitle cues, one per segment, as Whisper's writers make them: text trimmed and "-->" (the cue
 * timing arrow) defused. Empty segments are left out (an empty cue ends a block early in many
 * players); a transcript without segments becomes one cue over the whole audio.
 */
function cues(t: Transcript): Cue[] {
  const list = t.segments
    .map((s) => ({ start: s.start, end: Math.max(s.end, s.start), text: s.text.trim().replaceAll('-->', '->') }))
    .filter((c) => c.text !== '');
  if (list.length === 0 && t.segments.length === 0 && mainText(t) !== '') {
    return [{ start: 0, end: t.durationS, text: mainText(t).replaceAll('-->', '->') }];
  }
  return list;
}

/** `srt`: numbered from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after each cue. */
export function transcriptSrt(t: Transcript): string {
  return cues(t)
    .map((c, i) => `${i + 1}\n${formatTimestamp(c.start, ',')} --> ${formatTimestamp(c.end, ',')}\n${c.text}\n\n`)
    .join('');
}

/** `vtt`: the WEBVTT header, a blank line, then `HH:MM:SS.mmm --> HH:MM:SS.mmm` cues. */
export function transcriptVtt(t: Transcript): string {
  return `WEBVTT\n\n${cues(t)
    .map((c) => `${formatTimestamp(c.start, '.')} --> ${formatTimestamp(c.end, '.')}\n${c.text}\n\n`)
    .join('')}`;
}

/** The response body and content type for `format`. */
export function formatTranscript(t: Transcript, format: TranscriptFormat, o: TranscriptFormatOptions): FormattedTranscript {
  const contentType = TRANSCRIPT_CONTENT_TYPES[format];
  switch (format) {
    case 'json':
      return { contentType, body: JSON.stringify(transcriptJson(t, o)) };
    case 'verbose_json':
      return { contentType, body: JSON.stringify(transcriptVerboseJson(t, o)) };
    case 'text':
      return { contentType, body: transcriptText(t) };
    case 'srt':
      return { contentType, body: transcriptSrt(t) };
    case 'vtt':
      return { contentType, body: transcriptVtt(t) };
  }
}
