/**
 * The seeded random numbers of image generation: a seed names one stream of uniforms and standard
 * normals, the same on every machine and Node version (only integer ops and IEEE doubles), so a
 * request's `seed` reproduces its image.
 */

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** splitmix32: spreads nearby seeds (0, 1, 2, ...) into unrelated generator states. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return [next, z >>> 0];
}

/** A seeded generator: same seed, same stream, on every machine. */
export class SeededRandom {
  // xoshiro128** state: small, fast, and passes BigCrush, unlike Math.random-grade LCGs.
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Box-Muller makes normals in pairs; the second waits here for the next call. */
  private spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_32) {
      throw new RangeError(`seed must be an integer in 0..2^32-1, got ${seed}`);
    }
    let state = seed | 0;
    const words: number[] = [];
    for (let k = 0; k < 4; k++) {
      const [next, word] = splitmix32(state);
      state = next;
      words.push(word);
    }
    // xoshiro's one forbidden state is all zeros; splitmix32 of any seed can't give it in practice, but be sure.
    if ((words[0]! | words[1]! | words[2]! | words[3]!) === 0) {
      words[0] = 1;
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
  }

  /** The next 32 random bits, as an unsigned integer. */
  private nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1), with all 53 bits of a double random (one 32-bit draw leaves gaps of 2^-32). */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /** A standard normal (Box-Muller). */
  normal(): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return z;
    }
    // 1 - uniform() is in (0, 1], so the log is finite.
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** n standard normals, the same values as n calls of normal(). */
  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = this.normal();
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
