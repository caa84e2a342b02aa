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
import { encodeTensorData, tensorByteSize } from './ggml-encoding';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufValueType, Q8_0_BLOCK_SIZE, gguf, type GgufMetadata, type GgufTensorLayout, type GgufTensorSpec, type GgufValue, type WriteGgufOptions, type WriteGgufResult } from './gguf-types';

export * from './gguf-types';
export * from './ggml-encoding';

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
