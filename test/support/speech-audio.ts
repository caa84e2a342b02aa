/**
 * Audio clips for the speech-to-text e2e tests and bench: tone bursts with silent gaps at 16 kHz (the
 * generated Whisper writes one segment per burst of at most 5 s, nothing on silence), as samples
 * and as float WAV files that decode back to exactly those samples.
 */
import { tone, wavFile } from './audio-samples';

export const RATE = 16_000;

/** A clip built from parts: a number is that many seconds of silence, `[s, hz]` a tone. */
export type ClipPart = number | readonly [seconds: number, hz: number];

export function clip(parts: readonly ClipPart[], rate = RATE): Float32Array {
  const pieces = parts.map((p) => (typeof p === 'number' ? new Float32Array(Math.round(p * rate)) : tone(p[1], p[0], rate, 0.5)));
  const out = new Float32Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Tone bursts of `burst` s separated by `gap` s of silence, `seconds` long in all. */
export function bursts(seconds: number, burst = 4, gap = 1.5, rate = RATE): Float32Array {
  const parts: ClipPart[] = [];
  let t = 0;
  for (let i = 0; t < seconds; i++) {
    const on = Math.min(burst, seconds - t);
    parts.push([on, i % 2 === 0 ? 440 : 660]);
    t += on;
    if (t >= seconds) break;
    const off = Math.min(gap, seconds - t);
    parts.push(off);
    t += off;
  }
  return clip(parts, rate);
}

/** A mono 32-bit float WAV: what the worker decodes is these very samples. */
export function floatWav(samples: Float32Array, rate = RATE): Buffer {
  return wavFile([samples], rate, { encoding: 'float32' });
}
