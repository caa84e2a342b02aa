/**
 * What one streamed generation measured, and how runs are reduced to medians. Both sides (in-process
 * node-llama-cpp and the HTTP gateway) produce the same StreamSample so they are reduced identically.
 */

/** One streamed generation. Times are `performance.now()` milliseconds in the bench process. */
export interface StreamSample {
  /** Just before the request (HTTP) or the tokenization (direct). */
  startAt: number;
  /** When the first content (a non-empty text piece) arrived. */
  firstAt: number;
  /** When the last content arrived. */
  lastAt: number;
  /** Generated tokens (usage.completion_tokens for the gateway; counted for direct). */
  tokens: number;
  /** Content chunks seen (gateway) or tokens yielded (direct). */
  chunks: number;
  /** Arrival time of every content chunk (gateway) or token (direct). */
  times: number[];
}

/** One phase (one side, one concurrency, one run) reduced to numbers. */
export interface PhaseMetrics {
  /** Mean time to first token over the phase's streams, ms. */
  ttftMs: number;
  /** The slowest stream's time to first token, ms. */
  maxTtftMs: number;
  /** Median over streams of (tokens − 1) / (last − first), tokens/s. */
  streamDecodeTps: number;
  /**
   * Tokens/s of all streams together while every one of them is decoding (from the latest first
   * token to the earliest last one), so a stream that started early or ended late does not count.
   */
  aggregateDecodeTps: number;
  /** Σ tokens / (latest last − earliest start): end to end, prefill included. */
  endToEndTps: number;
  /** Mean generated tokens per stream. */
  tokensPerStream: number;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function decodeTps(s: StreamSample): number {
  const ms = s.lastAt - s.firstAt;
  return s.tokens > 1 && ms > 0 ? ((s.tokens - 1) * 1000) / ms : Number.NaN;
}

/** Σ over streams of the tokens that arrived in (from, to], per second. */
function steadyDecodeTps(samples: StreamSample[]): number {
  const from = Math.max(...samples.map((s) => s.firstAt));
  const to = Math.min(...samples.map((s) => s.lastAt));
  if (!(to > from)) return Number.NaN;
  let tokens = 0;
  for (const s of samples) {
    const inside = s.times.filter((t) => t > from && t <= to).length;
    // A chunk can carry more than one token (held-back partial characters); scale to tokens.
    tokens += s.chunks > 0 ? (inside * s.tokens) / s.chunks : 0;
  }
  return (tokens * 1000) / (to - from);
}

export function phaseMetrics(samples: StreamSample[]): PhaseMetrics {
  const lastAt = Math.max(...samples.map((s) => s.lastAt));
  const startAt = Math.min(...samples.map((s) => s.startAt));
  const total = samples.reduce((a, s) => a + s.tokens, 0);
  return {
    ttftMs: mean(samples.map((s) => s.firstAt - s.startAt)),
    maxTtftMs: Math.max(...samples.map((s) => s.firstAt - s.startAt)),
    streamDecodeTps: median(samples.map(decodeTps)),
    aggregateDecodeTps: steadyDecodeTps(samples),
    endToEndTps: lastAt > startAt ? (total * 1000) / (lastAt - startAt) : Number.NaN,
    tokensPerStream: mean(samples.map((s) => s.tokens)),
  };
}

export interface MetricSummary {
  median: number;
  min: number;
  max: number;
  /** Runs where the metric was undefined (e.g. the streams never all decoded at the same time). */
  missing: number;
}

export function summarize(values: number[]): MetricSummary {
  const ok = values.filter(Number.isFinite);
  if (ok.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, missing: values.length };
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), missing: values.length - ok.length };
}

export type SummaryOf<T> = { [K in keyof T]: MetricSummary };

export function summarizePhases(runs: PhaseMetrics[]): SummaryOf<PhaseMetrics> {
  const keys: Array<keyof PhaseMetrics> = ['ttftMs', 'maxTtftMs', 'streamDecodeTps', 'aggregateDecodeTps', 'endToEndTps', 'tokensPerStream'];
  return Object.fromEntries(keys.map((k) => [k, summarize(runs.map((r) => r[k]))])) as SummaryOf<PhaseMetrics>;
}

export function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/** "median (min–max)", noting runs where the metric was undefined. */
export function fmtRange(s: MetricSummary, digits = 1): string {
  const missing = s.missing > 0 ? ` [n/a in ${s.missing} run${s.missing > 1 ? 's' : ''}]` : '';
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})${missing}`;
}
