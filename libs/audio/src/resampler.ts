/**
 * Band-limited sample-rate conversion for the in-process WAV path: a Kaiser-windowed sinc evaluated
 * as a polyphase filter bank, so 44.1 or 48 kHz speech reaches Whisper's 16 kHz without the aliasing
 * a linear interpolator folds into the band the model listens to.
 */

export interface ResamplerOptions {
  /**
   * Zero crossings of the sinc on each side, counted at the lower of the two rates. 32 gives a
   * transition band of about 1.2 kHz at 16 kHz with ~80 dB stop-band attenuation.
   */
  zeroCrossings?: number;
  /** Cut-off as a fraction of the lower rate's Nyquist frequency; the transition band sits around it. */
  rolloff?: number;
  /** Kaiser window shape; 7.9 is ~80 dB by Kaiser's formula. */
  beta?: number;
}

const DEFAULTS: Required<ResamplerOptions> = { zeroCrossings: 32, rolloff: 0.925, beta: 7.9 };

/** Rates whose ratio needs more phases than this share quantised phases (error < 1/2048 sample). */
const MAX_PHASES = 2048;

/** Zeroth-order modified Bessel function of the first kind, by its power series. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

interface FilterBank {
  /** Taps per phase (2 × half width, in input samples). */
  taps: number;
  /** Offset of the first tap relative to floor(t). */
  first: number;
  phases: number;
  /** phases × taps coefficients, each phase normalised to unit DC gain. */
  coefficients: Float32Array;
}

function buildBank(fromRate: number, toRate: number, phases: number, o: Required<ResamplerOptions>): FilterBank {
  // Cut-off in cycles per input sample; below the lower rate's Nyquist frequency.
  const cutoff = (o.rolloff * Math.min(fromRate, toRate)) / (2 * fromRate);
  const halfWidth = o.zeroCrossings / (2 * cutoff);
  const half = Math.ceil(halfWidth);
  const taps = 2 * half;
  const first = -half + 1;
  const coefficients = new Float32Array(phases * taps);
  const i0Beta = besselI0(o.beta);
  for (let p = 0; p < phases; p++) {
    const frac = p / phases;
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      // Distance from the output instant (floor(t) + frac) to input sample floor(t) + first + j.
      const d = frac - (first + j);
      const r = d / halfWidth;
      let h = 0;
      if (Math.abs(r) < 1) {
        const x = 2 * cutoff * d;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        h = 2 * cutoff * sinc * (besselI0(o.beta * Math.sqrt(1 - r * r)) / i0Beta);
      }
      coefficients[p * taps + j] = h;
      sum += h;
    }
    for (let j = 0; j < taps; j++) coefficients[p * taps + j] /= sum;
  }
  return { taps, first, phases, coefficients };
}

/** Output length for `frames` input frames: the same duration at the new rate. */
export function resampledLength(frames: number, fromRate: number, toRate: number): number {
  return Math.round((frames * toRate) / fromRate);
}

/** A filter bank for one pair of rates, applied to any slice of the output. */
export class Resampler {
  private readonly bank: FilterBank;
  private readonly up: number;
  private readonly down: number;
  private readonly exact: boolean;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    options: ResamplerOptions = {},
  ) {
    if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || fromRate <= 0 || toRate <= 0) {
      throw new RangeError(`sample rates must be positive integers (got ${fromRate} -> ${toRate})`);
    }
    const g = gcd(fromRate, toRate);
    this.up = toRate / g; // output samples per `down` input samples
    this.down = fromRate / g;
    this.exact = this.up <= MAX_PHASES;
    this.bank = buildBank(fromRate, toRate, this.exact ? this.up : MAX_PHASES, { ...DEFAULTS, ...options });
  }

  /** The input samples [start, end) that output sample `k` is made of (before clipping at the ends). */
  inputSpan(k: number): [number, number] {
    const base = this.exact ? Math.floor((k * this.down) / this.up) : Math.floor((k * this.fromRate) / this.toRate);
    // The inexact path may round its phase up to the next base: allow one sample more.
    const start = base + this.bank.first;
    return [start, start + this.bank.taps + (this.exact ? 0 : 1)];
  }

  /**
   * Writes output samples [from, to) into `out` (at index k − from), reading `input` as the slice
   * of the whole input that starts at sample `offset` (the streaming resampler's window). Samples
   * before 0 and past `total` are silence, as in `process`; the window must cover what lies between.
   */
  processWindow(input: Float32Array, offset: number, total: number, out: Float32Array, from: number, to: number): void {
    const { taps, first, phases, coefficients } = this.bank;
    const { up, down, exact, fromRate, toRate } = this;
    for (let k = from; k < to; k++) {
      let base: number;
      let phase: number;
      if (exact) {
        const num = k * down;
        base = Math.floor(num / up);
        phase = num - base * up;
      } else {
        const t = (k * fromRate) / toRate;
        base = Math.floor(t);
        phase = Math.round((t - base) * phases);
        if (phase === phases) {
          base += 1;
          phase = 0;
        }
      }
      const start = base + first;
      const c = phase * taps;
      let acc = 0;
      const jFrom = Math.max(0, -start, offset - start);
      const jTo = Math.min(taps, total - start, offset + input.length - start);
      for (let j = jFrom; j < jTo; j++) acc += input[start + j - offset] * coefficients[c + j];
      out[k - from] = acc;
    }
  }

  /** Writes output samples [from, to) of `input` resampled into `out`. */
  process(input: Float32Array, out: Float32Array, from = 0, to = out.length): void {
    const { taps, first, phases, coefficients } = this.bank;
    const { up, down, exact, fromRate, toRate } = this;
    const n = input.length;
    for (let k = from; k < to; k++) {
      let base: number;
      let phase: number;
      if (exact) {
        // t = k·down/up input samples, split exactly into integer and phase parts.
        const num = k * down;
        base = Math.floor(num / up);
        phase = num - base * up;
      } else {
        const t = (k * fromRate) / toRate;
        base = Math.floor(t);
        phase = Math.round((t - base) * phases);
        if (phase === phases) {
          base += 1;
          phase = 0;
        }
      }
      const start = base + first;
      const c = phase * taps;
      let acc = 0;
      // Inputs past either end are silence: clip the tap range instead of testing each index.
      const jFrom = start < 0 ? -start : 0;
      const jTo = start + taps > n ? n - start : taps;
      for (let j = jFrom; j < jTo; j++) acc += input[start + j] * coefficients[c + j];
      out[k] = acc;
    }
  }
}

/** Resamples mono `input` from `fromRate` to `toRate` (both positive integers, in Hz). */
export function resample(input: Float32Array, fromRate: number, toRate: number, options: ResamplerOptions = {}): Float32Array {
  if (fromRate === toRate) return input.slice();
  const out = new Float32Array(resampledLength(input.length, fromRate, toRate));
  new Resampler(fromRate, toRate, options).process(input, out);
  return out;
}

/** Output samples per slice of `resampleYielding`: about 0.1-0.3 s of one core at 48 kHz in. */
const SLICE = 1 << 17;

/**
 * `resample` in slices with a turn of the event loop between them, so a long file does not stall
 * the worker's heartbeats and cancel listener; an aborted signal stops it with `signal.reason`.
 */
export async function resampleYielding(input: Float32Array, fromRate: number, toRate: number, signal?: AbortSignal): Promise<Float32Array> {
  if (fromRate === toRate) return input.slice();
  const out = new Float32Array(resampledLength(input.length, fromRate, toRate));
  const r = new Resampler(fromRate, toRate);
  for (let from = 0; from < out.length; from += SLICE) {
    signal?.throwIfAborted();
    r.process(input, out, from, Math.min(out.length, from + SLICE));
    if (from + SLICE < out.length) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out;
}
