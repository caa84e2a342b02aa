/**
 * Random-weight llama-architecture GGUF models that llama.cpp (node-llama-cpp) loads and runs.
 * Speed depends only on the shape, so benchmarks can use realistic dimensions; the text is gibberish
 * but varied (greedy decoding does not get stuck on one token).
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, stat } from 'node:fs/promises';
import { GgmlType, gguf, writeGguf, type GgufTensorSpec, type GgufValue, type TensorFill } from './gguf-writer';
import { generateVocab, SPM_SPACE, tokenizerMetadata, TokenType, type GeneratedVocab } from './tokenizer';

export interface LlamaShape {
  vocabSize: number;
  embeddingLength: number;
  blockCount: number;
  headCount: number;
  headCountKv: number;
  feedForwardLength: number;
  contextLength: number;
  ropeFreqBase?: number;
  rmsNormEps?: number;
}

export type LlamaShapeName = 'tiny' | 'smollm2-135m' | 'qwen2.5-0.5b';

export const LLAMA_SHAPES: Readonly<Record<LlamaShapeName, Readonly<LlamaShape>>> = {
  tiny: {
    vocabSize: 1024,
    embeddingLength: 64,
    blockCount: 2,
    headCount: 4,
    headCountKv: 2,
    feedForwardLength: 128,
    contextLength: 2048,
    ropeFreqBase: 10000,
    rmsNormEps: 1e-5,
  },
  'smollm2-135m': {
    vocabSize: 49152,
    embeddingLength: 576,
    blockCount: 30,
    headCount: 9,
    headCountKv: 3,
    feedForwardLength: 1536,
    contextLength: 8192,
    ropeFreqBase: 100000,
    rmsNormEps: 1e-5,
  },
  'qwen2.5-0.5b': {
    vocabSize: 151936,
    embeddingLength: 896,
    blockCount: 24,
    headCount: 14,
    headCountKv: 2,
    feedForwardLength: 4864,
    contextLength: 32768,
    ropeFreqBase: 1000000,
    rmsNormEps: 1e-6,
  },
};

export type ModelQuant = 'f32' | 'f16' | 'q8_0';

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** ChatML whose generation prompt opens a `<think>` block (reasoning-model style). */
export const CHATML_THINKING_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}{% endif %}";

export interface GenerateLlamaModelOptions {
  /** Output file (written atomically: temporary file + rename). */
  path: string;
  /** A named shape or custom dimensions. Default 'tiny'. */
  shape?: LlamaShapeName | LlamaShape;
  /** Weight type for the matrices (norms are always F32). Default 'f32' for tiny, 'q8_0' otherwise. */
  quant?: ModelQuant;
  /** PRNG seed; the same options and seed give a byte-identical file. Default 1. */
  seed?: number;
  /**
   * Jinja chat template stored as tokenizer.chat_template. Default: ChatML (or the thinking variant
   * when `thinking` is set). `null` stores no template.
   */
  chatTemplate?: string | null;
  /** Add <think>/</think> tokens and (unless chatTemplate is given) a template opening `<think>\n`. */
  thinking?: boolean;
  /** Overrides the shape's context length (llama.context_length). */
  contextLength?: number;
  /** general.name. Default `switchyard-random-<shape>`. */
  name?: string;
}

export interface GeneratedLlamaModel {
  path: string;
  /** File size in bytes. */
  bytes: number;
  /** Number of parameters (all tensors). */
  params: number;
  shape: LlamaShape;
  quant: ModelQuant;
  seed: number;
  name: string;
  chatTemplate: string | null;
  /** Token ids of interest (bos, eos = <|im_end|>, im_start, think...). */
  tokens: {
    bos: number;
    eos: number;
    unk: number;
    imStart: number;
    imEnd: number;
    thinkStart?: number;
    thinkEnd?: number;
    vocabSize: number;
  };
}

// ---------------------------------------------------------------------------------------------
// deterministic random numbers
// ---------------------------------------------------------------------------------------------

/** 32-bit FNV-1a of a string, mixed with a seed. */
export function hashSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: returns a function yielding uniform uint32 values. */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

// Sum of four 16-bit uniforms (Irwin-Hall n=4): mean 2*65535.5, std 65536/sqrt(3).
const IH4_MEAN = 2 * 65535;
const IH4_STD = 65536 / Math.sqrt(3);
/** Bound once: a global looked up per element is ~20× slower inside a vm context (jest runs tests in one). */
const imul = Math.imul;

/**
 * Normal-ish random tensor (sum of 4 uniforms) with standard deviation `std`. `rowScale`, when
 * given, multiplies row r (rows are ne[0] = rowLength elements long) by rowScale(r).
 * The fill keeps PRNG state across calls, so it must be consumed in order (as the writer does).
 */
export function randomFill(seed: number, std: number, rowLength = 0, rowScale?: (row: number) => number): TensorFill {
  let a = seed | 0;
  let expected = 0;
  const k = std / IH4_STD;
  return (start, out) => {
    if (start !== expected) throw new Error(`randomFill: out-of-order read at ${start}, expected ${expected}`);
    const n = out.length;
    for (let i = 0; i < n; i++) {
      a = (a + 0x6d2b79f5) | 0;
      let t = imul(a ^ (a >>> 15), 1 | a);
      t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t;
      const r1 = (t ^ (t >>> 14)) >>> 0;
      a = (a + 0x6d2b79f5) | 0;
      t = imul(a ^ (a >>> 15), 1 | a);
      t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t;
      const r2 = (t ^ (t >>> 14)) >>> 0;
      out[i] = ((r1 & 0xffff) + (r1 >>> 16) + (r2 & 0xffff) + (r2 >>> 16) - IH4_MEAN) * k;
    }
    if (rowScale && rowLength > 0) {
      for (let i = 0; i < n; ) {
        const idx = start + i;
        const row = Math.floor(idx / rowLength);
        const end = Math.min(n, (row + 1) * rowLength - start);
        const s = rowScale(row);
        if (s !== 1) for (let j = i; j < end; j++) out[j] = out[j]! * s;
        i = end;
      }
    }
    expected = start + n;
  };
}

function constantFill(value: number): TensorFill {
  return (_start, out) => {
    out.fill(value);
  };
}

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

/** Resolves a shape name or custom dimensions (validated). */
export function resolveShape(shape: LlamaShapeName | LlamaShape, contextLength?: number): LlamaShape {
  let s: LlamaShape;
  if (typeof shape === 'string') {
    const named = LLAMA_SHAPES[shape];
    if (!named) throw new Error(`unknown shape '${shape}' (known: ${Object.keys(LLAMA_SHAPES).join(', ')})`);
    s = { ...named };
  } else {
    s = { ropeFreqBase: 10000, rmsNormEps: 1e-5, ...shape };
  }
  if (contextLength !== undefined) s.contextLength = contextLength;
  for (const k of ['vocabSize', 'embeddingLength', 'blockCount', 'headCount', 'headCountKv', 'feedForwardLength', 'contextLength'] as const) {
    if (!Number.isInteger(s[k]) || s[k] <= 0) throw new Error(`shape.${k} must be a positive integer, got ${s[k]}`);
  }
  if (s.embeddingLength % s.headCount !== 0) throw new Error('embeddingLength must be divisible by headCount');
  if (s.headCount % s.headCountKv !== 0) throw new Error('headCount must be divisible by headCountKv');
  if ((s.embeddingLength / s.headCount) % 2 !== 0) throw new Error('head dimension must be even (RoPE)');
  return s;
}

function fileType(quant: ModelQuant): number {
  // llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q8_0 = 7
  return quant === 'f32' ? 0 : quant === 'f16' ? 1 : 7;
}

function ggmlType(quant: ModelQuant): GgmlType {
  switch (quant) {
    case 'f32':
      return GgmlType.F32;
    case 'f16':
      return GgmlType.F16;
    case 'q8_0':
      return GgmlType.Q8_0;
    default:
      throw new Error(`unknown quant '${String(quant)}' (f32, f16, q8_0)`);
  }
}

/** Weight scales. Tuned so greedy decoding yields varied, mostly normal-text tokens. */
const INIT = {
  /** token_embd std. */
  embedding: 1.0,
  /** q/k projections: std = gain / sqrt(n_embd); >1 sharpens attention, adding context dependence. */
  qkGain: 2.0,
  /** other matrices: std = gain / sqrt(fan_in). */
  gain: 1.0,
  /** output.weight std = outputGain / sqrt(n_embd) -> logits std ~ outputGain. */
  outputGain: 4.0,
  /** output rows of byte / control / unknown tokens are scaled down so they are rarely picked. */
  specialRowScale: 0.15,
  /** output rows of "▁"-prefixed normal tokens that are not whole words (prefixes, padding). */
  spacePieceRowScale: 0.7,
  /** output rows of other normal tokens (single chars, fragments, bare padding). */
  pieceRowScale: 0.6,
};

export function buildLlamaTensors(shape: LlamaShape, quant: ModelQuant, seed: number, vocab: GeneratedVocab): GgufTensorSpec[] {
  const type = ggmlType(quant);
  const nEmbd = shape.embeddingLength;
  const nFf = shape.feedForwardLength;
  const headDim = nEmbd / shape.headCount;
  const nEmbdKv = headDim * shape.headCountKv;
  const nVocab = shape.vocabSize;
  const rnd = (name: string, std: number, rowLength = 0, rowScale?: (row: number) => number): TensorFill =>
    randomFill(hashSeed(seed, name), std, rowLength, rowScale);
  const ones = constantFill(1);
  const tensors: GgufTensorSpec[] = [];
  const mat = (name: string, dims: number[], std: number, rowScale?: (row: number) => number): void => {
    tensors.push({ name, dims, type, data: rnd(name, std, dims[0], rowScale) });
  };
  const norm = (name: string): void => {
    tensors.push({ name, dims: [nEmbd], type: GgmlType.F32, data: ones });
  };

  mat('token_embd.weight', [nEmbd, nVocab], INIT.embedding);
  for (let b = 0; b < shape.blockCount; b++) {
    const p = `blk.${b}.`;
    norm(p + 'attn_norm.weight');
    mat(p + 'attn_q.weight', [nEmbd, nEmbd], INIT.qkGain / Math.sqrt(nEmbd));
    mat(p + 'attn_k.weight', [nEmbd, nEmbdKv], INIT.qkGain / Math.sqrt(nEmbd));
    mat(p + 'attn_v.weight', [nEmbd, nEmbdKv], INIT.gain / Math.sqrt(nEmbd));
    mat(p + 'attn_output.weight', [nEmbd, nEmbd], INIT.gain / Math.sqrt(nEmbd));
    norm(p + 'ffn_norm.weight');
    mat(p + 'ffn_gate.weight', [nEmbd, nFf], INIT.gain / Math.sqrt(nEmbd));
    mat(p + 'ffn_up.weight', [nEmbd, nFf], INIT.gain / Math.sqrt(nEmbd));
    mat(p + 'ffn_down.weight', [nFf, nEmbd], INIT.gain / Math.sqrt(nFf));
  }
  norm('output_norm.weight');
  const rowScales = vocab.tokens.map((piece, id) =>
    vocab.tokenTypes[id] !== TokenType.NORMAL
      ? INIT.specialRowScale
      : vocab.isWord[id]
        ? 1
        : piece.startsWith(SPM_SPACE)
          ? INIT.spacePieceRowScale
          : INIT.pieceRowScale,
  );
  mat('output.weight', [nEmbd, nVocab], INIT.outputGain / Math.sqrt(nEmbd), (row) => rowScales[row] ?? 1);
  return tensors;
}

export function llamaMetadata(
  shape: LlamaShape,
  quant: ModelQuant,
  name: string,
  vocab: GeneratedVocab,
  chatTemplate: string | null,
): Record<string, GgufValue> {
  const headDim = shape.embeddingLength / shape.headCount;
  const md: Record<string, GgufValue> = {
    'general.architecture': gguf.string('llama'),
    'general.name': gguf.string(name),
    'general.file_type': gguf.uint32(fileType(quant)),
    'llama.context_length': gguf.uint32(shape.contextLength),
    'llama.embedding_length': gguf.uint32(shape.embeddingLength),
    'llama.block_count': gguf.uint32(shape.blockCount),
    'llama.feed_forward_length': gguf.uint32(shape.feedForwardLength),
    'llama.attention.head_count': gguf.uint32(shape.headCount),
    'llama.attention.head_count_kv': gguf.uint32(shape.headCountKv),
    'llama.rope.dimension_count': gguf.uint32(headDim),
    'llama.attention.layer_norm_rms_epsilon': gguf.float32(shape.rmsNormEps ?? 1e-5),
    'llama.rope.freq_base': gguf.float32(shape.ropeFreqBase ?? 10000),
    'llama.vocab_size': gguf.uint32(shape.vocabSize),
  };
  if (quant === 'q8_0') md['general.quantization_version'] = gguf.uint32(2);
  Object.assign(md, tokenizerMetadata(vocab, chatTemplate));
  return md;
}

/** Parameter count of a llama model with this shape (output.weight untied). */
export function llamaParamCount(shape: LlamaShape): number {
  const e = shape.embeddingLength;
  const kv = (e / shape.headCount) * shape.headCountKv;
  const perBlock = 2 * e + 2 * e * e + 2 * e * kv + 3 * e * shape.feedForwardLength;
  return 2 * shape.vocabSize * e + e + shape.blockCount * perBlock;
}

export async function generateLlamaModel(options: GenerateLlamaModelOptions): Promise<GeneratedLlamaModel> {
  const shapeOpt = options.shape ?? 'tiny';
  const shape = resolveShape(shapeOpt, options.contextLength);
  const quant: ModelQuant = options.quant ?? (shapeOpt === 'tiny' ? 'f32' : 'q8_0');
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const thinking = options.thinking ?? false;
  const chatTemplate =
    options.chatTemplate === undefined ? (thinking ? CHATML_THINKING_TEMPLATE : CHATML_TEMPLATE) : options.chatTemplate;
  const name = options.name ?? `switchyard-random-${typeof shapeOpt === 'string' ? shapeOpt : 'custom'}`;

  const vocab = generateVocab({ vocabSize: shape.vocabSize, thinking });
  const tensors = buildLlamaTensors(shape, quant, seed, vocab);
  const metadata = llamaMetadata(shape, quant, name, vocab, chatTemplate);
  // Write to a temporary name and rename: readers (and --if-missing) never see a partial file, and
  // concurrent generators of the same path do not interleave.
  const partial = `${options.path}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeGguf(partial, metadata, tensors);
    await rename(partial, options.path);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  const { size } = await stat(options.path);
  return {
    path: options.path,
    bytes: size,
    params: llamaParamCount(shape),
    shape,
    quant,
    seed,
    name,
    chatTemplate,
    tokens: {
      bos: vocab.bosTokenId,
      eos: vocab.eosTokenId,
      unk: vocab.unkTokenId,
      imStart: vocab.imStartId,
      imEnd: vocab.imEndId,
      thinkStart: vocab.thinkStartId,
      thinkEnd: vocab.thinkEndId,
      vocabSize: vocab.tokens.length,
    },
  };
}
