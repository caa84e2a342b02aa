/**
 * Minimal streaming GGUF v3 writer.
 *
 * Layout (all little-endian):
 *   magic "GGUF" | version u32 (3) | tensor_count u64 | kv_count u64
 *   kv*:     key (u64 len + utf8) | value_type u32 | value
 *   tensor*: name (u64 len + utf8) | n_dims u32 | ne[n_dims] u64 | ggml_type u32 | offset u64
 *   padding to `general.alignment` | tensor data (each tensor padded to the alignment)
 *
 * Tensor data is produced chunk by chunk through a fill callback and written with a file handle,
 * so multi-hundred-megabyte files never live in memory at once.
 */
import { open } from 'node:fs/promises';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types (gguf.h `enum gguf_type`). */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** The ggml tensor types this writer can encode (ggml.h `enum ggml_type`). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
}

export const Q8_0_BLOCK_SIZE = 32;
/** Bytes of one Q8_0 block: fp16 scale + 32 int8 quants. */
export const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK_SIZE;

export type GgufArrayItemType = 'string' | 'int32' | 'uint32' | 'float32';

export type GgufValue =
  | { type: 'uint32'; value: number }
  | { type: 'int32'; value: number }
  | { type: 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: 'string'; value: readonly string[] }
  | { type: 'array'; itemType: 'int32' | 'uint32' | 'float32'; value: ArrayLike<number> };

/** Small constructors so metadata reads `{ 'llama.block_count': gguf.uint32(2) }`. */
export const gguf = {
  uint32: (value: number): GgufValue => ({ type: 'uint32', value }),
  int32: (value: number): GgufValue => ({ type: 'int32', value }),
  float32: (value: number): GgufValue => ({ type: 'float32', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  string: (value: string): GgufValue => ({ type: 'string', value }),
  stringArray: (value: readonly string[]): GgufValue => ({ type: 'array', itemType: 'string', value }),
  int32Array: (value: ArrayLike<number>): GgufValue => ({ type: 'array', itemType: 'int32', value }),
  uint32Array: (value: ArrayLike<number>): GgufValue => ({ type: 'array', itemType: 'uint32', value }),
  float32Array: (value: ArrayLike<number>): GgufValue => ({ type: 'array', itemType: 'float32', value }),
};

export type GgufMetadata = Record<string, GgufValue> | Iterable<readonly [string, GgufValue]>;

/**
 * Fills `out` with elements [start, start + out.length) of the tensor (flat, row-major: ne[0] is the
 * innermost dimension). The writer calls it with contiguous ascending ranges, once per element, so a
 * stateful generator (e.g. a PRNG stream) is fine.
 */
export type TensorFill = (start: number, out: Float32Array) => void;

export interface GgufTensorSpec {
  name: string;
  /** GGUF dimension order: dims[0] = ne[0] = row length (innermost). */
  dims: readonly number[];
  type: GgmlType;
  data: Float32Array | TensorFill;
}

export interface WriteGgufOptions {
  /** Data alignment, written as general.alignment. Default 32. */
  alignment?: number;
  /** Elements generated per chunk (rounded to a multiple of 32). Default 1 Mi. */
  chunkElements?: number;
}

export interface GgufTensorLayout {
  name: string;
  dims: number[];
  type: GgmlType;
  /** Offset relative to the start of the data section. */
  offset: number;
  bytes: number;
}

export interface WriteGgufResult {
  path: string;
  /** Total file size in bytes. */
  bytes: number;
  /** Absolute file offset of the tensor data section. */
  dataOffset: number;
  tensors: GgufTensorLayout[];
}

// ---------------------------------------------------------------------------------------------
// fp16 / Q8_0 encoding
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// header serialization
// ---------------------------------------------------------------------------------------------

class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buf.writeInt32LE(v | 0, this.length);
    this.length += 4;
  }
  u64(v: number): void {
    this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  f32(v: number): void {
    this.reserve(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }
  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    const target = alignUp(this.length, alignment);
    this.reserve(target - this.length);
    this.buf.fill(0, this.length, target);
    this.length = target;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function checkInt(key: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`metadata ${key}: ${v} is out of range`);
}

function writeValue(sink: ByteSink, key: string, v: GgufValue): void {
  switch (v.type) {
    case 'uint32':
      checkInt(key, v.value, 0, 0xffffffff);
      sink.u32(GgufValueType.UINT32);
      sink.u32(v.value);
      return;
    case 'int32':
      checkInt(key, v.value, -0x80000000, 0x7fffffff);
      sink.u32(GgufValueType.INT32);
      sink.i32(v.value);
      return;
    case 'float32':
      sink.u32(GgufValueType.FLOAT32);
      sink.f32(v.value);
      return;
    case 'bool':
      sink.u32(GgufValueType.BOOL);
      sink.u8(v.value ? 1 : 0);
      return;
    case 'string':
      sink.u32(GgufValueType.STRING);
      sink.str(v.value);
      return;
    case 'array': {
      sink.u32(GgufValueType.ARRAY);
      const items = v.value;
      switch (v.itemType) {
        case 'string':
          sink.u32(GgufValueType.STRING);
          sink.u64(items.length);
          for (const s of items as readonly string[]) sink.str(s);
          return;
        case 'int32':
          sink.u32(GgufValueType.INT32);
          sink.u64(items.length);
          for (let i = 0; i < items.length; i++) sink.i32((items as ArrayLike<number>)[i]!);
          return;
        case 'uint32':
          sink.u32(GgufValueType.UINT32);
          sink.u64(items.length);
          for (let i = 0; i < items.length; i++) sink.u32((items as ArrayLike<number>)[i]!);
          return;
        case 'float32':
          sink.u32(GgufValueType.FLOAT32);
          sink.u64(items.length);
          for (let i = 0; i < items.length; i++) sink.f32((items as ArrayLike<number>)[i]!);
          return;
      }
    }
  }
  throw new Error(`metadata ${key}: unsupported value ${JSON.stringify(v)}`);
}

function metadataEntries(metadata: GgufMetadata): Array<readonly [string, GgufValue]> {
  if (Symbol.iterator in metadata) return [...(metadata as Iterable<readonly [string, GgufValue]>)];
  return Object.entries(metadata as Record<string, GgufValue>);
}

/**
 * Serializes everything up to (and including) the padding before the data section, and computes
 * each tensor's offset. Exposed for tests and for callers that want the layout without writing.
 */
export function buildGgufHeader(
  metadata: GgufMetadata,
  tensors: readonly Pick<GgufTensorSpec, 'name' | 'dims' | 'type'>[],
  alignment = GGUF_DEFAULT_ALIGNMENT,
): { header: Buffer; tensors: GgufTensorLayout[]; dataBytes: number } {
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new Error(`alignment must be a positive multiple of 8, got ${alignment}`);
  }
  const entries = metadataEntries(metadata).filter(([k]) => k !== 'general.alignment');
  entries.unshift(['general.alignment', gguf.uint32(alignment)]);
  const seen = new Set<string>();
  for (const [k] of entries) {
    if (seen.has(k)) throw new Error(`duplicate metadata key ${k}`);
    seen.add(k);
  }

  const layout: GgufTensorLayout[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor ${t.name}`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > 4) throw new Error(`tensor ${t.name}: 1..4 dims expected`);
    for (const d of t.dims) {
      if (!Number.isInteger(d) || d <= 0) throw new Error(`tensor ${t.name}: bad dimension ${d}`);
    }
    if (t.type === GgmlType.Q8_0 && t.dims[0]! % Q8_0_BLOCK_SIZE !== 0) {
      throw new Error(`tensor ${t.name}: Q8_0 needs a row length (ne[0]=${t.dims[0]}) divisible by ${Q8_0_BLOCK_SIZE}`);
    }
    const elements = t.dims.reduce((a, b) => a * b, 1);
    const bytes = tensorByteSize(t.type, elements);
    layout.push({ name: t.name, dims: [...t.dims], type: t.type, offset, bytes });
    offset = alignUp(offset + bytes, alignment);
  }

  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(layout.length);
  sink.u64(entries.length);
  for (const [key, value] of entries) {
    sink.str(key);
    writeValue(sink, key, value);
  }
  for (const t of layout) {
    sink.str(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(d);
    sink.u32(t.type);
    sink.u64(t.offset);
  }
  sink.pad(alignment);
  return { header: sink.bytes(), tensors: layout, dataBytes: offset };
}

/** Writes a GGUF v3 file, streaming tensor data chunk by chunk. */
export async function writeGguf(
  path: string,
  metadata: GgufMetadata,
  tensors: readonly GgufTensorSpec[],
  options: WriteGgufOptions = {},
): Promise<WriteGgufResult> {
  const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const chunkElements = Math.max(
    Q8_0_BLOCK_SIZE,
    Math.floor((options.chunkElements ?? 1 << 20) / Q8_0_BLOCK_SIZE) * Q8_0_BLOCK_SIZE,
  );
  const { header, tensors: layout, dataBytes } = buildGgufHeader(metadata, tensors, alignment);
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i]!;
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if (t.data instanceof Float32Array && t.data.length !== elements) {
      throw new Error(`tensor ${t.name}: ${t.data.length} values for ${elements} elements`);
    }
  }

  const scratch = new Float32Array(chunkElements);
  const out = new Uint8Array(chunkElements * 4 + alignment);
  const zeros = new Uint8Array(alignment);
  const fh = await open(path, 'w');
  try {
    let pos = 0;
    const write = async (bytes: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, pos);
        done += bytesWritten;
        pos += bytesWritten;
      }
    };
    await write(header);
    const dataStart = header.length;
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      const l = layout[i]!;
      if (pos !== dataStart + l.offset) throw new Error(`internal: tensor ${t.name} at ${pos}, expected ${dataStart + l.offset}`);
      const elements = t.dims.reduce((a, b) => a * b, 1);
      for (let start = 0; start < elements; start += chunkElements) {
        const n = Math.min(chunkElements, elements - start);
        let src: Float32Array;
        if (t.data instanceof Float32Array) {
          src = t.data.subarray(start, start + n);
        } else {
          src = scratch.subarray(0, n);
          t.data(start, src);
        }
        const written = encodeTensorData(t.type, src, out, 0);
        await write(out.subarray(0, written));
      }
      const padded = alignUp(l.bytes, alignment) - l.bytes;
      if (padded > 0) await write(zeros.subarray(0, padded));
    }
    const total = dataStart + dataBytes;
    if (pos !== total) throw new Error(`internal: wrote ${pos} bytes, expected ${total}`);
    await fh.truncate(total);
    return { path, bytes: total, dataOffset: dataStart, tensors: layout };
  } finally {
    await fh.close();
  }
}
