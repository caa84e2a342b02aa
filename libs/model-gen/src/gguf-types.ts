/**
 * The GGUF v3 vocabulary the writer and reader share: magic, version and alignment, the metadata
 * value types and ggml tensor types (as gguf.h and ggml.h number them), metadata value
 * constructors, and the tensor and file layout types.
 */
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
