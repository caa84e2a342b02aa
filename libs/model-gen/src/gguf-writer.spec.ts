import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufHeader, readGgufTensorBytes } from './gguf-reader';
import {
  dequantizeQ8_0,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  GGUF_MAGIC,
  gguf,
  GgmlType,
  quantizeQ8_0,
  Q8_0_BLOCK_BYTES,
  tensorByteSize,
  writeGguf,
  type GgufTensorSpec,
} from './gguf-writer';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gguf-writer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ramp(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * scale);
}

describe('writeGguf header', () => {
  const metadata = {
    'general.architecture': gguf.string('llama'),
    'general.name': gguf.string('tëst ✓'),
    'test.u32': gguf.uint32(4000000000),
    'test.i32': gguf.int32(-123456),
    'test.f32': gguf.float32(0.5),
    'test.bool_t': gguf.bool(true),
    'test.bool_f': gguf.bool(false),
    'test.strings': gguf.stringArray(['a', '', '▁the', '<0x0A>']),
    'test.i32s': gguf.int32Array([1, -2, 3]),
    'test.u32s': gguf.uint32Array(Uint32Array.from([7, 4294967295])),
    'test.f32s': gguf.float32Array(Float32Array.from([1.5, -0.25])),
  };
  const f32 = ramp(3 * 5);
  const tensors: GgufTensorSpec[] = [
    { name: 'a.f32', dims: [5, 3], type: GgmlType.F32, data: f32 },
    { name: 'b.f16', dims: [7], type: GgmlType.F16, data: ramp(7, 3) }, // 14 bytes: forces padding
    {
      name: 'c.q8',
      dims: [64, 3],
      type: GgmlType.Q8_0,
      data: (start, out) => out.set(ramp(64 * 3, 2).subarray(start, start + out.length)),
    },
  ];
  let path: string;
  let result: Awaited<ReturnType<typeof writeGguf>>;

  beforeAll(async () => {
    path = join(dir, 'header.gguf');
    result = await writeGguf(path, metadata, tensors);
  });

  it('starts with the GGUF magic and version 3', async () => {
    const bytes = await readFile(path);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(bytes.readUInt32LE(0)).toBe(GGUF_MAGIC);
    expect(bytes.readUInt32LE(4)).toBe(3);
    expect(bytes.readBigUInt64LE(8)).toBe(3n); // tensor count
    expect(bytes.readBigUInt64LE(16)).toBe(BigInt(Object.keys(metadata).length + 1)); // + general.alignment
  });

  it('reads back every metadata value with its type', async () => {
    const info = await readGgufHeader(path);
    expect(info.version).toBe(3);
    expect(info.tensorCount).toBe(3);
    expect(info.metadata['general.alignment']).toBe(32);
    expect(info.metadataTypes['general.alignment']).toBe('uint32');
    expect(info.metadata['general.name']).toBe('tëst ✓');
    expect(info.metadata['test.u32']).toBe(4000000000);
    expect(info.metadataTypes['test.u32']).toBe('uint32');
    expect(info.metadata['test.i32']).toBe(-123456);
    expect(info.metadataTypes['test.i32']).toBe('int32');
    expect(info.metadata['test.f32']).toBe(0.5);
    expect(info.metadataTypes['test.f32']).toBe('float32');
    expect(info.metadata['test.bool_t']).toBe(true);
    expect(info.metadata['test.bool_f']).toBe(false);
    expect(info.metadataTypes['test.bool_t']).toBe('bool');
    expect(info.metadata['test.strings']).toEqual(['a', '', '▁the', '<0x0A>']);
    expect(info.metadataTypes['test.strings']).toBe('array<string>');
    expect(info.metadata['test.i32s']).toEqual([1, -2, 3]);
    expect(info.metadataTypes['test.i32s']).toBe('array<int32>');
    expect(info.metadata['test.u32s']).toEqual([7, 4294967295]);
    expect(info.metadataTypes['test.u32s']).toBe('array<uint32>');
    expect(info.metadata['test.f32s']).toEqual([1.5, -0.25]);
    expect(info.metadataTypes['test.f32s']).toBe('array<float32>');
  });

  it('aligns the data section and every tensor to 32 bytes', async () => {
    const info = await readGgufHeader(path);
    expect(info.dataOffset % 32).toBe(0);
    expect(info.dataOffset).toBe(result.dataOffset);
    expect(info.tensors.map((t) => t.name)).toEqual(['a.f32', 'b.f16', 'c.q8']);
    expect(info.tensors.map((t) => t.dims)).toEqual([[5, 3], [7], [64, 3]]);
    expect(info.tensors.map((t) => t.type)).toEqual([GgmlType.F32, GgmlType.F16, GgmlType.Q8_0]);
    expect(info.tensors.map((t) => t.offset)).toEqual([0, 64, 96]); // 60 -> 64, 14 -> 32
    for (const t of info.tensors) expect(t.offset % 32).toBe(0);
    const q8Bytes = 6 * Q8_0_BLOCK_BYTES; // 204 -> padded to 224
    expect((await stat(path)).size).toBe(info.dataOffset + 96 + 224);
    expect(result.bytes).toBe(info.dataOffset + 96 + 224);
    expect(tensorByteSize(GgmlType.Q8_0, 64 * 3)).toBe(q8Bytes);
  });

  it('stores tensor data that decodes back to the input', async () => {
    const info = await readGgufHeader(path);
    const a = await readGgufTensorBytes(path, info, 'a.f32');
    expect(Array.from(new Float32Array(a.buffer, a.byteOffset, 15))).toEqual(Array.from(f32));
    const b = await readGgufTensorBytes(path, info, 'b.f16');
    const expectedB = ramp(7, 3);
    for (let i = 0; i < 7; i++) {
      expect(float16BitsToFloat32(b.readUInt16LE(i * 2))).toBeCloseTo(expectedB[i]!, 2);
    }
    const c = dequantizeQ8_0(await readGgufTensorBytes(path, info, 'c.q8'), 64 * 3);
    const expectedC = ramp(64 * 3, 2);
    for (let i = 0; i < expectedC.length; i++) expect(Math.abs(c[i]! - expectedC[i]!)).toBeLessThan(2 / 127);
  });

  it('produces the same bytes whatever the chunk size', async () => {
    const p2 = join(dir, 'chunked.gguf');
    const calls: Array<[number, number]> = [];
    const spy: GgufTensorSpec[] = tensors.map((t) =>
      t.name === 'c.q8'
        ? {
            ...t,
            data: (start, out) => {
              calls.push([start, out.length]);
              (t.data as (s: number, o: Float32Array) => void)(start, out);
            },
          }
        : t,
    );
    await writeGguf(p2, metadata, spy, { chunkElements: 64 });
    expect(calls).toEqual([
      [0, 64],
      [64, 64],
      [128, 64],
    ]);
    expect((await readFile(p2)).equals(await readFile(path))).toBe(true);
  });

  it('rejects invalid tensors', async () => {
    await expect(
      writeGguf(join(dir, 'bad1.gguf'), {}, [{ name: 'x', dims: [48, 2], type: GgmlType.Q8_0, data: new Float32Array(96) }]),
    ).rejects.toThrow(/divisible by 32/);
    await expect(
      writeGguf(join(dir, 'bad2.gguf'), {}, [
        { name: 'x', dims: [4], type: GgmlType.F32, data: new Float32Array(4) },
        { name: 'x', dims: [4], type: GgmlType.F32, data: new Float32Array(4) },
      ]),
    ).rejects.toThrow(/duplicate tensor/);
    await expect(
      writeGguf(join(dir, 'bad3.gguf'), {}, [{ name: 'x', dims: [4], type: GgmlType.F32, data: new Float32Array(3) }]),
    ).rejects.toThrow(/3 values for 4 elements/);
    await expect(writeGguf(join(dir, 'bad4.gguf'), { k: gguf.uint32(-1) }, [])).rejects.toThrow(/out of range/);
  });
});

describe('fp16 conversion', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [70000, 0x7c00], // overflow -> inf
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -14, 0x0400], // smallest normal
    [1e-9, 0x0000], // underflow
    [1 + 2 ** -11, 0x3c00], // tie -> even (down)
    [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (up)
    [0.1, 0x2e66],
  ])('%p -> bits %p', (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  it('round-trips NaN and every finite half exactly', () => {
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
    const mismatches: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue; // inf / NaN
      if (float32ToFloat16Bits(float16BitsToFloat32(h)) !== h) mismatches.push(h);
    }
    expect(mismatches).toEqual([]);
  });
});

describe('Q8_0', () => {
  it('encodes 34-byte blocks: fp16 d = max|x|/127, then 32 int8', () => {
    const x = new Float32Array(32);
    x[0] = 127;
    x[1] = -63.5; // ties round away from zero, like roundf
    x[2] = 63.5;
    x[3] = 2.5;
    x[4] = -2.5;
    x[5] = -127;
    x[6] = 0.49;
    const out = new Uint8Array(Q8_0_BLOCK_BYTES);
    expect(quantizeQ8_0(x, out)).toBe(Q8_0_BLOCK_BYTES);
    expect(float16BitsToFloat32(out[0]! | (out[1]! << 8))).toBe(1);
    const q = new Int8Array(out.buffer, 2, 32);
    expect(Array.from(q.subarray(0, 7))).toEqual([127, -64, 64, 3, -3, -127, 0]);
    expect(Array.from(q.subarray(7))).toEqual(new Array(25).fill(0));
  });

  it('encodes an all-zero block with d = 0', () => {
    const out = new Uint8Array(Q8_0_BLOCK_BYTES).fill(0xaa);
    quantizeQ8_0(new Float32Array(32), out);
    expect(Array.from(out)).toEqual(new Array(Q8_0_BLOCK_BYTES).fill(0));
  });

  it('round-trips random data within half a quantization step', () => {
    let s = 12345;
    const rand = (): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32 - 0.5;
    };
    const n = 32 * 64;
    const x = Float32Array.from({ length: n }, (_, i) => rand() * (1 + (i >> 5))); // per-block ranges differ
    const enc = new Uint8Array(tensorByteSize(GgmlType.Q8_0, n));
    expect(quantizeQ8_0(x, enc)).toBe(64 * Q8_0_BLOCK_BYTES);
    const y = dequantizeQ8_0(enc, n);
    for (let b = 0; b < n; b += 32) {
      const block = x.subarray(b, b + 32);
      const amax = Math.max(...Array.from(block, Math.abs));
      const d = amax / 127;
      let maxErr = 0;
      for (let i = 0; i < 32; i++) maxErr = Math.max(maxErr, Math.abs(y[b + i]! - block[i]!));
      // half a step, plus the fp16 rounding of d (relative 2^-11) times |q| <= 127
      expect(maxErr).toBeLessThanOrEqual(d / 2 + amax * 2 ** -11 + 1e-7);
      // the largest magnitude maps to +-127
      const qs = new Int8Array(enc.buffer, (b / 32) * Q8_0_BLOCK_BYTES + 2, 32);
      expect(Math.max(...Array.from(qs, Math.abs))).toBe(127);
    }
  });

  it('rejects lengths that are not a multiple of 32', () => {
    expect(() => quantizeQ8_0(new Float32Array(33), new Uint8Array(100))).toThrow(/multiple of 32/);
  });
});
