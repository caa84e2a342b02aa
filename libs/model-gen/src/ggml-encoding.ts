/**
 * Tensor data encodings the writer produces: IEEE fp16 conversion (round to nearest even, with
 * subnormals, inf and NaN), Q8_0 blocks (fp16 scale + 32 int8 quants) and their decoding, and the
 * byte size of a tensor of each type.
 */
import { GgmlType, Q8_0_BLOCK_BYTES, Q8_0_BLOCK_SIZE } from './gguf-types';

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary32 -> binary16 bits, round to nearest even, with subnormals, inf and NaN. */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  return f32BitsToF16Bits(u32Scratch[0]!);
}

/** Same as float32ToFloat16Bits, from the binary32 bit pattern. */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000; // implicit leading bit
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++; // may carry into exponent: still correct
  return sign | half;
}

/** IEEE 754 binary16 bits -> number. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Bytes needed for `elements` values of `type`. */
export function tensorByteSize(type: GgmlType, elements: number): number {
  switch (type) {
    case GgmlType.F32:
      return elements * 4;
    case GgmlType.F16:
      return elements * 2;
    case GgmlType.Q8_0:
      if (elements % Q8_0_BLOCK_SIZE !== 0) throw new Error(`Q8_0 needs a multiple of ${Q8_0_BLOCK_SIZE} elements`);
      return (elements / Q8_0_BLOCK_SIZE) * Q8_0_BLOCK_BYTES;
    default:
      throw new Error(`unsupported ggml type ${String(type)}`);
  }
}

/**
 * Quantizes `src` (length a multiple of 32) into Q8_0 blocks written to `dst` at `dstOffset`:
 * per block, d = max|x| / 127 stored as fp16, then q[i] = round(x[i] / d) as int8.
 * Returns the number of bytes written.
 */
export function quantizeQ8_0(src: ArrayLike<number>, dst: Uint8Array, dstOffset = 0): number {
  const n = src.length;
  if (n % Q8_0_BLOCK_SIZE !== 0) throw new Error(`Q8_0 needs a multiple of ${Q8_0_BLOCK_SIZE} elements, got ${n}`);
  const x = src instanceof Float32Array ? src : Float32Array.from(src);
  const xBits = new Int32Array(x.buffer, x.byteOffset, x.length);
  const q8 = new Int8Array(dst.buffer, dst.byteOffset, dst.byteLength);
  const fround = Math.fround;
  let o = dstOffset;
  for (let b = 0; b < n; b += Q8_0_BLOCK_SIZE) {
    let amax = 0;
    // branch-free on purpose: random signs make `v < 0 ? -v : v` mispredict half the time
    for (let i = b; i < b + Q8_0_BLOCK_SIZE; i++) amax = Math.max(amax, Math.abs(x[i]!));
    // same float32 arithmetic as ggml's quantize_row_q8_0_ref
    const d = fround(amax / 127);
    const id = d !== 0 ? fround(1 / d) : 0;
    const dBits = float32ToFloat16Bits(d);
    dst[o] = dBits & 0xff;
    dst[o + 1] = dBits >>> 8;
    o += 2;
    for (let i = b; i < b + Q8_0_BLOCK_SIZE; i++) {
      // roundf(v) = sign(v) * floor(|v| + 0.5); |v| <= 127 so `| 0` floors it exactly (and is much
      // faster than Math.round in V8). The sign comes from the float's sign bit: -1 or 0.
      const a = fround(Math.abs(x[i]!) * id);
      const r = (a + 0.5) | 0;
      const s = xBits[i]! >> 31;
      q8[o++] = (r ^ s) - s;
    }
  }
  return o - dstOffset;
}

/** Decodes Q8_0 blocks back to floats (x = d * q). */
export function dequantizeQ8_0(src: Uint8Array, elements: number, srcOffset = 0): Float32Array {
  if (elements % Q8_0_BLOCK_SIZE !== 0) throw new Error(`Q8_0 needs a multiple of ${Q8_0_BLOCK_SIZE} elements`);
  const out = new Float32Array(elements);
  let o = srcOffset;
  for (let b = 0; b < elements; b += Q8_0_BLOCK_SIZE) {
    const d = float16BitsToFloat32(src[o]! | (src[o + 1]! << 8));
    o += 2;
    for (let i = 0; i < Q8_0_BLOCK_SIZE; i++) {
      const q = src[o++]!;
      out[b + i] = d * (q > 127 ? q - 256 : q);
    }
  }
  return out;
}

/** Encodes `src` as `type` into `dst` at `dstOffset`; returns bytes written. */
export function encodeTensorData(type: GgmlType, src: Float32Array, dst: Uint8Array, dstOffset = 0): number {
  switch (type) {
    case GgmlType.F32: {
      const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
      dst.set(bytes, dstOffset); // little-endian hosts only (x64/arm64)
      return bytes.length;
    }
    case GgmlType.F16: {
      if (dstOffset % 2 === 0 && (dst.byteOffset + dstOffset) % 2 === 0) {
        const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
        const h16 = new Uint16Array(dst.buffer, dst.byteOffset + dstOffset, src.length);
        for (let i = 0; i < src.length; i++) h16[i] = f32BitsToF16Bits(bits[i]!);
      } else {
        let o = dstOffset;
        for (let i = 0; i < src.length; i++) {
          const h = float32ToFloat16Bits(src[i]!);
          dst[o++] = h & 0xff;
          dst[o++] = h >>> 8;
        }
      }
      return src.length * 2;
    }
    case GgmlType.Q8_0:
      return quantizeQ8_0(src, dst, dstOffset);
    default:
      throw new Error(`unsupported ggml type ${String(type)}`);
  }
}
