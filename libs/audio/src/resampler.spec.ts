import { rms, tone, toneAmplitude } from '../../../test/support/audio-samples';
import { resample, resampledLength, resampleYielding } from './resampler';

/** The middle of a signal, away from the filter's ramp-in and ramp-out at the ends. */
function middle(x: Float32Array, rate: number): Float32Array {
  const edge = Math.round(0.05 * rate);
  return x.subarray(edge, x.length - edge);
}

describe('resample', () => {
  it.each([8000, 11025, 22050, 44100, 48000, 96000, 44101])('keeps a 440 Hz tone from %i Hz at its level and length', (rate) => {
    const out = resample(tone(440, 1, rate, 0.5), rate, 16000);
    expect(out.length).toBe(resampledLength(rate, rate, 16000));
    expect(Math.abs(out.length - 16000)).toBeLessThanOrEqual(1);
    const mid = middle(out, 16000);
    expect(toneAmplitude(mid, 16000, 440)).toBeCloseTo(0.5, 2);
    // All of the energy is the tone: nothing else came in.
    expect(rms(mid) * Math.SQRT2).toBeCloseTo(0.5, 2);
  });

  it.each([
    [48000, 10000],
    [44100, 12000],
    [48000, 8500],
  ])('filters out a tone above the new Nyquist frequency (%i Hz in, %i Hz tone) instead of aliasing it', (rate, freq) => {
    const out = resample(tone(freq, 1, rate, 0.5), rate, 16000);
    const alias = 16000 - freq;
    const mid = middle(out, 16000);
    // -70 dB or better relative to the input's amplitude.
    expect(toneAmplitude(mid, 16000, alias)).toBeLessThan(0.5 * 3e-4);
    expect(rms(mid)).toBeLessThan(0.5 * 3e-4);
  });

  it('passes speech frequencies flat up to the pass band edge', () => {
    for (const freq of [100, 1000, 3000, 6000, 6800]) {
      const out = middle(resample(tone(freq, 1, 48000, 0.5), 48000, 16000), 16000);
      // Within 0.1 dB.
      expect(Math.abs(20 * Math.log10(toneAmplitude(out, 16000, freq) / 0.5))).toBeLessThan(0.1);
    }
  });

  it('upsamples 8 kHz telephone audio without images', () => {
    const out = middle(resample(tone(3000, 1, 8000, 0.5), 8000, 16000), 16000);
    expect(toneAmplitude(out, 16000, 3000)).toBeCloseTo(0.5, 2);
    // The spectral image of 3 kHz at an 8 kHz rate sits at 5 kHz.
    expect(toneAmplitude(out, 16000, 5000)).toBeLessThan(0.5 * 3e-4);
  });

  it('keeps a constant level (unit gain at DC) and copies at the same rate', () => {
    const dc = new Float32Array(44100).fill(0.3);
    const out = middle(resample(dc, 44100, 16000), 16000);
    for (const v of out) expect(v).toBeCloseTo(0.3, 4);
    const same = tone(440, 0.1, 16000);
    const copy = resample(same, 16000, 16000);
    expect(copy).toEqual(same);
    expect(copy).not.toBe(same);
  });

  it('refuses rates that are not positive integers', () => {
    expect(() => resample(new Float32Array(10), 0, 16000)).toThrow(RangeError);
    expect(() => resample(new Float32Array(10), 44100.5, 16000)).toThrow(RangeError);
  });

  it('gives the same samples in slices, and stops when aborted', async () => {
    // 10 s at 8 kHz is 160 000 output samples: more than one slice.
    const input = tone(440, 10, 8000);
    expect(await resampleYielding(input, 8000, 16000)).toEqual(resample(input, 8000, 16000));
    const ac = new AbortController();
    const reason = new Error('cancelled');
    const run = resampleYielding(input, 8000, 16000, ac.signal);
    ac.abort(reason);
    await expect(run).rejects.toBe(reason);
    // About 1 s alone; a loaded machine (the full suite on 2 cores) has taken 14 s.
  }, 60_000);
});
