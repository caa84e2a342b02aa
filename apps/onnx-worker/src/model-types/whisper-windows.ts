/**
 * The pure parts of Whisper's long-form transcription, as OpenAI's reference `transcribe()` does
 * them: a 30 s window's tokens split into segments at consecutive timestamp tokens, how far the
 * next window starts (seek), the quality checks that send a window back for a hotter decode, and
 * word timings from per-token times. No model here, so each rule is unit-tested on its own.
 */
import { deflateSync } from 'node:zlib';

/** Mel frames per second (hop 160 at 16 kHz), and frames per encoder position. */
export const FRAMES_PER_SECOND = 100;
export const INPUT_STRIDE = 2;
/** One timestamp token step, in seconds. */
export const TIME_PRECISION = 0.02;

export interface WindowSegment {
  start: number;
  end: number;
  /** The segment's tokens, timestamps included (what verbose_json's `tokens` carries). */
  tokens: number[];
}

export interface SplitWindow {
  segments: WindowSegment[];
  /** Frames the next window starts after this one's start. */
  advance: number;
}

/**
 * Splits one window's generated tokens (no prompt, no end-of-text) into segments.
 * `timeOffset` is the window's start in seconds, `segmentFrames` its length in frames.
 */
export function splitWindow(tokens: readonly number[], timestampBegin: number, timeOffset: number, segmentFrames: number): SplitWindow {
  const isTs = tokens.map((t) => t >= timestampBegin);
  const at = (t: number): number => round2(timeOffset + (t - timestampBegin) * TIME_PRECISION);
  const singleEnding = tokens.length >= 2 && isTs[tokens.length - 1] && !isTs[tokens.length - 2];
  const consecutive: number[] = [];
  for (let i = 1; i < tokens.length; i++) if (isTs[i] && isTs[i - 1]) consecutive.push(i);

  if (consecutive.length === 0) {
    // One segment for the window; it ends at its last timestamp when the model gave one.
    const stamps = tokens.filter((_, i) => isTs[i]);
    let end = round2(timeOffset + segmentFrames / FRAMES_PER_SECOND);
    const last = stamps.at(-1);
    if (last !== undefined && last !== timestampBegin) end = at(last);
    const start = isTs[0] ? at(tokens[0]) : timeOffset;
    return { segments: tokens.length ? [{ start: Math.min(start, end), end, tokens: [...tokens] }] : [], advance: segmentFrames };
  }

  const slices = singleEnding ? [...consecutive, tokens.length] : consecutive;
  const segments: WindowSegment[] = [];
  let from = 0;
  for (const to of slices) {
    const piece = tokens.slice(from, to);
    if (piece.length) segments.push({ start: at(piece[0]), end: at(piece[piece.length - 1]), tokens: piece });
    from = to;
  }
  let advance = segmentFrames;
  if (!singleEnding) {
    // The window ends inside an unfinished segment: the next window starts at its start.
    const lastPos = tokens[from - 1] - timestampBegin;
    advance = lastPos * INPUT_STRIDE;
    if (advance <= 0) advance = segmentFrames;
  }
  return { segments, advance: Math.min(advance, segmentFrames) };
}

/** gzip-style ratio of the text's bytes to their zlib-compressed size (repetition loops score high). */
export function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return 0;
  return bytes.length / deflateSync(bytes).length;
}

export interface WindowQuality {
  avgLogprob: number;
  compressionRatio: number;
  noSpeechProb: number;
}

export interface QualityThresholds {
  compressionRatioThreshold: number | null;
  logprobThreshold: number | null;
  noSpeechThreshold: number | null;
}

/** The reference's checks: decode again hotter, or (silence) keep the window's result and skip it. */
export function judgeWindow(q: WindowQuality, t: QualityThresholds): { retry: boolean; silent: boolean } {
  const lowLogprob = t.logprobThreshold !== null && q.avgLogprob < t.logprobThreshold;
  const silent = t.noSpeechThreshold !== null && q.noSpeechProb > t.noSpeechThreshold && lowLogprob;
  const tooRepetitive = t.compressionRatioThreshold !== null && q.compressionRatio > t.compressionRatioThreshold;
  return { retry: !silent && (tooRepetitive || lowLogprob), silent };
}

export interface TimedToken {
  text: string;
  start: number;
  end: number;
}

export interface TimedWord {
  word: string;
  start: number;
  end: number;
}

const PUNCTUATION = /^[\s]*[.,!?;:"')\]}…。、，！？]+$/u;

/**
 * Groups decoded text tokens into words: a token starting with a space starts a word, punctuation
 * joins the word before it (as OpenAI's words carry "fox." as "fox"). Words are trimmed.
 */
export function groupWords(tokens: readonly TimedToken[]): TimedWord[] {
  const words: TimedWord[] = [];
  let current: TimedWord | undefined;
  for (const t of tokens) {
    if (t.text === '') continue;
    const punct = PUNCTUATION.test(t.text);
    if (current && (punct || !/^\s/u.test(t.text))) {
      if (!punct) current.word += t.text;
      current.end = Math.max(current.end, t.end);
      continue;
    }
    if (punct) continue;
    current = { word: t.text, start: t.start, end: t.end };
    words.push(current);
  }
  return words.map((w) => ({ word: w.word.trim(), start: w.start, end: Math.max(w.start, w.end) })).filter((w) => w.word !== '');
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
