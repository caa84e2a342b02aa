// The seeded generator: reproducible streams and the right distributions.
import { SeededRandom } from './random';

describe('SeededRandom', () => {
  it('gives the same stream for the same seed', () => {
    const a = new SeededRandom(1234);
    const b = new SeededRandom(1234);
    expect(Array.from(a.normals(64))).toEqual(Array.from(b.normals(64)));
    expect(a.uniform()).toBe(b.uniform());
  });

  it('gives different streams for different seeds, even neighbouring ones', () => {
    const first = (seed: number): number[] => Array.from(new SeededRandom(seed).normals(8));
    expect(first(0)).not.toEqual(first(1));
    expect(first(1)).not.toEqual(first(2));
    expect(first(0xffffffff)).not.toEqual(first(0));
  });

  it('keeps a stream fixed across releases (a request re-run with its seed gives the same image)', () => {
    // Pinned from this implementation: a change here changes every seeded image.
    const r = new SeededRandom(42);
    expect([r.uniform(), r.uniform(), r.normal(), r.normal()]).toEqual([
      0.15377165265745885, 0.018084542542176507, -0.17628187931501416, -1.2246999983419469,
    ]);
  });

  it('draws uniforms in [0, 1) with mean 1/2 and variance 1/12', () => {
    const r = new SeededRandom(7);
    const n = 100_000;
    let sum = 0;
    let sumSq = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      if (!(u >= 0 && u < 1)) {
        outside++;
      }
      sum += u;
      sumSq += u * u;
    }
    expect(outside).toBe(0);
    const mean = sum / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(sumSq / n - mean * mean - 1 / 12)).toBeLessThan(0.005);
  });

  it('draws standard normals: mean 0, variance 1, symmetric tails', () => {
    const z = new SeededRandom(2024).normals(100_000);
    let sum = 0;
    let sumSq = 0;
    let beyond2 = 0;
    for (const v of z) {
      sum += v;
      sumSq += v * v;
      if (Math.abs(v) > 2) {
        beyond2++;
      }
    }
    const mean = sum / z.length;
    const variance = sumSq / z.length - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    // P(|Z| > 2) = 0.0455.
    expect(Math.abs(beyond2 / z.length - 0.0455)).toBeLessThan(0.003);
  });

  it('normals(n) continues the same stream as normal()', () => {
    const a = new SeededRandom(99);
    const b = new SeededRandom(99);
    const one = [b.normal(), b.normal(), b.normal()];
    expect(Array.from(a.normals(3))).toEqual(one.map((v) => Math.fround(v)));
  });

  it('rejects seeds outside 0..2^32-1', () => {
    expect(() => new SeededRandom(-1)).toThrow(RangeError);
    expect(() => new SeededRandom(2 ** 32)).toThrow(RangeError);
    expect(() => new SeededRandom(1.5)).toThrow(RangeError);
  });
});
