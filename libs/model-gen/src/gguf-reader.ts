/**
 * Minimal GGUF header reader (metadata + tensor infos, no tensor data). Used by tests to check what
 * the writer produced, and handy for inspecting generated models.
 */
import { open } from 'node:fs/promises';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType, GgmlType, tensorByteSize } from './gguf-writer';

export type GgufReadValue = number | bigint | boolean | string | GgufReadValue[];

export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: GgmlType | number;
  /** Offset relative to the data section. */
  offset: number;
}

export interface GgufFileInfo {
  magic: number;
  version: number;
  tensorCount: number;
  metadata: Record<string, GgufReadValue>;
  /** Value type of each metadata key (for arrays: `array<itemType>`). */
  metadataTypes: Record<string, string>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset of the data section. */
  dataOffset: number;
  fileSize: number;
}

class OutOfData extends Error {}

class Cursor {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new OutOfData();
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  i8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  i16(): number {
    this.need(2);
    const v = this.buf.readInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  f32(): number {
    this.need(4);
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  num64(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('u64 value too large');
    return Number(v);
  }
  str(): string {
    const n = this.num64();
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

const TYPE_NAMES: Record<number, string> = {
  [GgufValueType.UINT8]: 'uint8',
  [GgufValueType.INT8]: 'int8',
  [GgufValueType.UINT16]: 'uint16',
  [GgufValueType.INT16]: 'int16',
  [GgufValueType.UINT32]: 'uint32',
  [GgufValueType.INT32]: 'int32',
  [GgufValueType.FLOAT32]: 'float32',
  [GgufValueType.BOOL]: 'bool',
  [GgufValueType.STRING]: 'string',
  [GgufValueType.ARRAY]: 'array',
  [GgufValueType.UINT64]: 'uint64',
  [GgufValueType.INT64]: 'int64',
  [GgufValueType.FLOAT64]: 'float64',
};

function readScalar(c: Cursor, type: number): GgufReadValue {
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8();
    case GgufValueType.INT8:
      return c.i8();
    case GgufValueType.UINT16:
      return c.u16();
    case GgufValueType.INT16:
      return c.i16();
    case GgufValueType.UINT32:
      return c.u32();
    case GgufValueType.INT32:
      return c.i32();
    case GgufValueType.FLOAT32:
      return c.f32();
    case GgufValueType.BOOL:
      return c.u8() !== 0;
    case GgufValueType.STRING:
      return c.str();
    case GgufValueType.UINT64:
      return c.u64();
    case GgufValueType.INT64:
      return c.i64();
    case GgufValueType.FLOAT64:
      return c.f64();
    default:
      throw new Error(`unknown GGUF value type ${type}`);
  }
}

function parse(buf: Buffer, fileSize: number): GgufFileInfo {
  const c = new Cursor(buf);
  const magic = c.u32();
  if (magic !== GGUF_MAGIC) throw new Error(`not a GGUF file (magic 0x${magic.toString(16)})`);
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new Error(`unsupported GGUF version ${version}`);
  const tensorCount = c.num64();
  const kvCount = c.num64();
  const metadata: Record<string, GgufReadValue> = {};
  const metadataTypes: Record<string, string> = {};
  for (let i = 0; i < kvCount; i++) {
    const key = c.str();
    const type = c.u32();
    if (type === GgufValueType.ARRAY) {
      const itemType = c.u32();
      const n = c.num64();
      const items: GgufReadValue[] = new Array<GgufReadValue>(n);
      for (let j = 0; j < n; j++) items[j] = readScalar(c, itemType);
      metadata[key] = items;
      metadataTypes[key] = `array<${TYPE_NAMES[itemType] ?? itemType}>`;
    } else {
      metadata[key] = readScalar(c, type);
      metadataTypes[key] = TYPE_NAMES[type] ?? String(type);
    }
  }
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.str();
    const nDims = c.u32();
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.num64());
    const type = c.u32();
    const offset = c.num64();
    tensors.push({ name, dims, type, offset });
  }
  const alignment = typeof metadata['general.alignment'] === 'number' ? metadata['general.alignment'] : GGUF_DEFAULT_ALIGNMENT;
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  return { magic, version, tensorCount, metadata, metadataTypes, tensors, alignment, dataOffset, fileSize };
}

/** Reads the header of a GGUF file (grows the read window until the whole header fits). */
export async function readGgufHeader(path: string): Promise<GgufFileInfo> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    let window = Math.min(size, 1 << 20);
    for (;;) {
      const buf = Buffer.alloc(window);
      const { bytesRead } = await fh.read(buf, 0, window, 0);
      try {
        return parse(buf.subarray(0, bytesRead), size);
      } catch (err) {
        if (!(err instanceof OutOfData) || window >= size) {
          if (err instanceof OutOfData) throw new Error('truncated GGUF header');
          throw err;
        }
        window = Math.min(size, window * 4);
      }
    }
  } finally {
    await fh.close();
  }
}

/** Reads the raw (still encoded) bytes of one tensor. */
export async function readGgufTensorBytes(path: string, info: GgufFileInfo, name: string): Promise<Buffer> {
  const t = info.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`no tensor ${name}`);
  const bytes = tensorByteSize(t.type as GgmlType, t.dims.reduce((a, b) => a * b, 1));
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    await fh.read(buf, 0, bytes, info.dataOffset + t.offset);
    return buf;
  } finally {
    await fh.close();
  }
}
