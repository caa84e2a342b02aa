/**
 * The Kaiser-sinc resampler over a stream: chunks in, chunks out, keeping the input the next
 * outputs still need, so the concatenated output equals one-shot `resample()` of the whole input
 * (a voice's sentences reach 24 kHz without clicks at their joins).
 */
import { resampledLength, Resampler } from './resampler';

export class StreamingResampler {
  private readonly resampler: Resampler | undefined;
  /** Input kept, starting at input sample `offset`. */
  private kept = new Float32Array(0);
  private offset = 0;
  private total = 0;
  private produced = 0;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
  ) {
    this.resampler = fromRate === toRate ? undefined : new Resampler(fromRate, toRate);
  }

  /** The outputs this chunk completes (those whose filter taps are all in). */
  push(chunk: Float32Array): Float32Array {
    if (!this.resampler) return chunk.slice();
    const joined = new Float32Array(this.kept.length + chunk.length);
    joined.set(this.kept);
    joined.set(chunk, this.kept.length);
    this.kept = joined;
    this.total += chunk.length;
    // Outputs whose taps end inside the input so far; the last ones wait for more (or flush).
    // The span's end grows with the output index: the first output that does not fit, by bisection.
    let lo = this.produced;
    let hi = resampledLength(this.total, this.fromRate, this.toRate);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.resampler.inputSpan(mid)[1] <= this.total) lo = mid + 1;
      else hi = mid;
    }
    return this.emit(lo, this.total);
  }

  /** The last outputs, the input's end being silence. */
  flush(): Float32Array {
    if (!this.resampler) return new Float32Array(0);
    return this.emit(resampledLength(this.total, this.fromRate, this.toRate), this.total);
  }

  private emit(to: number, total: number): Float32Array {
    const out = new Float32Array(Math.max(0, to - this.produced));
    this.resampler!.processWindow(this.kept, this.offset, total, out, this.produced, to);
    this.produced = to;
    // Drop what no later output reads.
    const keepFrom = Math.max(this.offset, Math.min(this.total, this.resampler!.inputSpan(to)[0]));
    this.kept = this.kept.slice(keepFrom - this.offset);
    this.offset = keepFrom;
    return out;
  }
}
