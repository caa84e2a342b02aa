import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufHeader, readGgufTensorBytes } from './gguf-reader';
import { dequantizeQ8_0, float16BitsToFloat32, GgmlType, tensorByteSize } from './gguf-writer';
import {
  CHATML_TEMPLATE,
  CHATML_THINKING_TEMPLATE,
  generateLlamaModel,
  LLAMA_SHAPES,
  llamaParamCount,
  randomFill,
  resolveShape,
} from './llama-model';
import { TokenType } from './tokenizer';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llama-model-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('generateLlamaModel (tiny)', () => {
  it('writes the llama metadata llama.cpp expects', async () => {
    const path = join(dir, 'tiny.gguf');
    const model = await generateLlamaModel({ path, shape: 'tiny', seed: 3 });
    const info = await readGgufHeader(path);
    const md = info.metadata;
    expect(md['general.architecture']).toBe('llama');
    expect(md['general.name']).toBe('switchyard-random-tiny');
    expect(md['general.alignment']).toBe(32);
    expect(md['general.file_type']).toBe(0);
    expect(md['llama.context_length']).toBe(2048);
    expect(md['llama.embedding_length']).toBe(64);
    expect(md['llama.block_count']).toBe(2);
    expect(md['llama.feed_forward_length']).toBe(128);
    expect(md['llama.attention.head_count']).toBe(4);
    expect(md['llama.attention.head_count_kv']).toBe(2);
    expect(md['llama.rope.dimension_count']).toBe(16);
    expect(md['llama.attention.layer_norm_rms_epsilon']).toBeCloseTo(1e-5, 10);
    expect(md['llama.rope.freq_base']).toBe(10000);
    expect(md['llama.vocab_size']).toBe(1024);
    expect(info.metadataTypes['llama.rope.freq_base']).toBe('float32');
    expect(md['tokenizer.ggml.model']).toBe('llama');
    expect(md['tokenizer.ggml.tokens']).toHaveLength(1024);
    expect(md['tokenizer.ggml.scores']).toHaveLength(1024);
    expect(md['tokenizer.ggml.token_type']).toHaveLength(1024);
    expect(info.metadataTypes['tokenizer.ggml.token_type']).toBe('array<int32>');
    expect(info.metadataTypes['tokenizer.ggml.scores']).toBe('array<float32>');
    expect(md['tokenizer.ggml.bos_token_id']).toBe(1);
    expect(md['tokenizer.ggml.eos_token_id']).toBe(model.tokens.imEnd);
    expect((md['tokenizer.ggml.tokens'] as string[])[model.tokens.imEnd]).toBe('<|im_end|>');
    expect(md['tokenizer.ggml.add_bos_token']).toBe(true);
    expect(md['tokenizer.ggml.add_eos_token']).toBe(false);
    expect(md['tokenizer.chat_template']).toBe(CHATML_TEMPLATE);
    expect(model.bytes).toBe(info.fileSize);
    expect(model).toMatchObject({ quant: 'f32', seed: 3, name: 'switchyard-random-tiny', chatTemplate: CHATML_TEMPLATE, params: llamaParamCount(LLAMA_SHAPES.tiny) });
  });

  it('lays the tensor data out packed and aligned, the file ending at the last tensor', async () => {
    const model = await generateLlamaModel({ path: join(dir, 'layout.gguf'), shape: 'tiny', seed: 3 });
    const info = await readGgufHeader(model.path);
    const align = (n: number): number => Math.ceil(n / 32) * 32;
    expect(info.dataOffset % 32).toBe(0);
    let expected = 0;
    for (const t of info.tensors) {
      expect({ name: t.name, offset: t.offset }).toEqual({ name: t.name, offset: expected });
      expected = align(t.offset + tensorByteSize(t.type as GgmlType, t.dims.reduce((a, d) => a * d, 1)));
    }
    expect(info.fileSize).toBe(info.dataOffset + expected);
    // f32 and every tiny dimension a multiple of 8: 4 bytes a parameter, no padding needed.
    expect(expected).toBe(4 * model.params);
  });

  it('writes every llama tensor with GGUF dimension order', async () => {
    const path = join(dir, 'tiny-f16.gguf');
    const model = await generateLlamaModel({ path, shape: 'tiny', quant: 'f16' });
    const info = await readGgufHeader(path);
    const byName = new Map(info.tensors.map((t) => [t.name, t]));
    expect(info.tensors).toHaveLength(3 + 2 * 9);
    expect(byName.get('token_embd.weight')?.dims).toEqual([64, 1024]);
    expect(byName.get('output.weight')?.dims).toEqual([64, 1024]);
    expect(byName.get('output_norm.weight')).toMatchObject({ dims: [64], type: GgmlType.F32 });
    for (const b of [0, 1]) {
      const dims = (n: string): number[] | undefined => byName.get(`blk.${b}.${n}.weight`)?.dims;
      expect(dims('attn_norm')).toEqual([64]);
      expect(dims('attn_q')).toEqual([64, 64]);
      expect(dims('attn_k')).toEqual([64, 32]); // 2 kv heads x 16
      expect(dims('attn_v')).toEqual([64, 32]);
      expect(dims('attn_output')).toEqual([64, 64]);
      expect(dims('ffn_norm')).toEqual([64]);
      expect(dims('ffn_gate')).toEqual([64, 128]);
      expect(dims('ffn_up')).toEqual([64, 128]);
      expect(dims('ffn_down')).toEqual([128, 64]);
      expect(byName.get(`blk.${b}.attn_q.weight`)?.type).toBe(GgmlType.F16);
      expect(byName.get(`blk.${b}.ffn_norm.weight`)?.type).toBe(GgmlType.F32);
    }
    const elements = info.tensors.reduce((sum, t) => sum + t.dims.reduce((a, d) => a * d, 1), 0);
    expect(model.params).toBe(elements);
    expect(llamaParamCount(LLAMA_SHAPES.tiny)).toBe(elements);
    expect(info.metadata['general.file_type']).toBe(1);

    // norms are ones; weights are zero-mean with the intended spread
    const norm = await readGgufTensorBytes(path, info, 'blk.0.attn_norm.weight');
    expect(Array.from(new Float32Array(norm.buffer, norm.byteOffset, 64))).toEqual(new Array(64).fill(1));
    const q = await readGgufTensorBytes(path, info, 'blk.0.attn_q.weight');
    const values = Array.from({ length: 64 * 64 }, (_, i) => float16BitsToFloat32(q.readUInt16LE(i * 2)));
    const mean = values.reduce((a, x) => a + x, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, x) => a + (x - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(0.1); // q/k use gain 2/sqrt(64) = 0.25
    expect(std).toBeLessThan(0.4);
    expect(new Set(values).size).toBeGreaterThan(1000);
  });

  it('is deterministic by seed', async () => {
    const a = join(dir, 'seed-a.gguf');
    const b = join(dir, 'seed-b.gguf');
    const c = join(dir, 'seed-c.gguf');
    await generateLlamaModel({ path: a, seed: 42 });
    await generateLlamaModel({ path: b, seed: 42 });
    await generateLlamaModel({ path: c, seed: 43 });
    const [ba, bb, bc] = await Promise.all([readFile(a), readFile(b), readFile(c)]);
    expect(ba.equals(bb)).toBe(true);
    expect(bc.length).toBe(ba.length); // same layout...
    expect(ba.equals(bc)).toBe(false); // ...different weights
    const info = await readGgufHeader(a);
    const header = ba.subarray(0, info.dataOffset);
    expect(header.equals(bc.subarray(0, info.dataOffset))).toBe(true);
  });

  it('supports no chat template, a custom one and thinking', async () => {
    const none = await readGgufHeader((await generateLlamaModel({ path: join(dir, 'none.gguf'), chatTemplate: null })).path);
    expect(none.metadata['tokenizer.chat_template']).toBeUndefined();

    const custom = await readGgufHeader(
      (await generateLlamaModel({ path: join(dir, 'custom.gguf'), chatTemplate: '{{ messages }}', name: 'x' })).path,
    );
    expect(custom.metadata['tokenizer.chat_template']).toBe('{{ messages }}');
    expect(custom.metadata['general.name']).toBe('x');

    const model = await generateLlamaModel({ path: join(dir, 'think.gguf'), thinking: true, contextLength: 4096 });
    const info = await readGgufHeader(model.path);
    const tokens = info.metadata['tokenizer.ggml.tokens'] as string[];
    const types = info.metadata['tokenizer.ggml.token_type'] as number[];
    expect(info.metadata['tokenizer.chat_template']).toBe(CHATML_THINKING_TEMPLATE);
    expect(CHATML_THINKING_TEMPLATE).toContain("'<|im_start|>assistant\\n<think>\\n'");
    expect(tokens[model.tokens.thinkStart!]).toBe('<think>');
    expect(tokens[model.tokens.thinkEnd!]).toBe('</think>');
    expect(types[model.tokens.thinkStart!]).toBe(TokenType.USER_DEFINED);
    expect(info.metadata['llama.context_length']).toBe(4096);
  });

  it('writes Q8_0 for shapes whose rows are multiples of 32', async () => {
    const shape = { ...LLAMA_SHAPES.tiny, vocabSize: 600, blockCount: 1 };
    const model = await generateLlamaModel({ path: join(dir, 'q8.gguf'), shape, quant: 'q8_0' });
    const info = await readGgufHeader(model.path);
    const embd = info.tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(embd.type).toBe(GgmlType.Q8_0);
    expect(info.metadata['general.file_type']).toBe(7);
    expect(info.metadata['general.quantization_version']).toBe(2);
    expect(info.metadata['general.name']).toBe('switchyard-random-custom');
    const raw = await readGgufTensorBytes(model.path, info, 'token_embd.weight');
    expect(raw.length).toBe(tensorByteSize(GgmlType.Q8_0, 64 * 600));
    const values = dequantizeQ8_0(raw, 64 * 600);
    const std = Math.sqrt(values.reduce((a, x) => a + x * x, 0) / values.length);
    expect(std).toBeGreaterThan(0.8);
    expect(std).toBeLessThan(1.2);
  });

  it('validates options', async () => {
    await expect(
      generateLlamaModel({ path: join(dir, 'bad.gguf'), shape: { ...LLAMA_SHAPES.tiny, embeddingLength: 48, headCount: 4 }, quant: 'q8_0' }),
    ).rejects.toThrow(/divisible by 32/);
    // nothing is left behind by a failed generation
    expect((await readdir(dir)).filter((f) => f.startsWith('bad') || f.endsWith('.partial'))).toEqual([]);
    expect(() => resolveShape({ ...LLAMA_SHAPES.tiny, headCount: 5 })).toThrow(/divisible/);
    expect(() => resolveShape('nope' as 'tiny')).toThrow(/unknown shape/);
    await expect(generateLlamaModel({ path: join(dir, 'bad2.gguf'), quant: 'q4' as 'f32' })).rejects.toThrow(/unknown quant/);
  });
});

describe('randomFill', () => {
  it('gives the same stream whatever the chunking', () => {
    const whole = new Float32Array(1000);
    randomFill(9, 1)(0, whole);
    const fill = randomFill(9, 1);
    const parts = new Float32Array(1000);
    for (let s = 0; s < 1000; s += 96) fill(s, parts.subarray(s, Math.min(1000, s + 96)));
    expect(Array.from(parts)).toEqual(Array.from(whole));
    expect(() => fill(0, new Float32Array(4))).toThrow(/out-of-order/);
  });

  it('is roughly normal with the requested std and applies row scales', () => {
    const n = 200000;
    const x = new Float32Array(n);
    randomFill(1, 0.5)(0, x);
    let sum = 0;
    let sq = 0;
    let within1 = 0;
    for (const v of x) {
      sum += v;
      sq += v * v;
      if (Math.abs(v) < 0.5) within1++;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.01);
    expect(Math.sqrt(sq / n)).toBeCloseTo(0.5, 2);
    expect(within1 / n).toBeGreaterThan(0.66); // normal: 68.3% within one std
    expect(within1 / n).toBeLessThan(0.71);

    const scaled = new Float32Array(40);
    randomFill(1, 0.5, 10, (row) => (row === 2 ? 0 : 1))(0, scaled);
    expect(scaled.subarray(20, 30).every((v) => v === 0)).toBe(true);
    expect(Array.from(scaled.subarray(0, 10))).toEqual(Array.from(x.subarray(0, 10)));
  });
});

describe('shapes', () => {
  it('match the published model dimensions', () => {
    expect(LLAMA_SHAPES['smollm2-135m']).toMatchObject({ embeddingLength: 576, blockCount: 30, headCount: 9, headCountKv: 3, feedForwardLength: 1536, vocabSize: 49152, contextLength: 8192 });
    expect(LLAMA_SHAPES['qwen2.5-0.5b']).toMatchObject({ embeddingLength: 896, blockCount: 24, headCount: 14, headCountKv: 2, feedForwardLength: 4864, vocabSize: 151936, contextLength: 32768 });
    expect(llamaParamCount(LLAMA_SHAPES['smollm2-135m'])).toBeGreaterThan(134e6);
  });
});
