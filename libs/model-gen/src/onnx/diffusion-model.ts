/**
 * Writes a random-weight Stable Diffusion pipeline in Hugging Face Optimum's ONNX layout
 * (model_index.json, scheduler/, tokenizer/, text_encoder/, unet/, vae_decoder/, vae_encoder/, each
 * graph as model.onnx with its diffusers or transformers config.json), so text-to-image serving can
 * be built and tested offline. The graphs follow diffusers' real architectures (CLIPTextModel,
 * UNet2DConditionModel, AutoencoderKL), parametrized by shape: 'sd-turbo' has stabilityai/sd-turbo's
 * real dimensions (~1.3 billion parameters, weights stored as ONNX external data), 'tiny' the same
 * code with tiny numbers. Only standard opset-17 operators; deterministic per seed.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TensorFill } from '../gguf-types';
import { hashSeed, randomFill } from '../llama-model';
import { addedToken } from './hf-added-token';
import { OnnxGraph, OnnxType } from './onnx-graph';

export type DiffusionShapeName = 'tiny' | 'sd-turbo';

type DownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';

export interface ClipTextShape {
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  /** Rows of the token embedding; undefined: the generated tokenizer's size. */
  vocabSize?: number;
}

export interface UNetShape {
  blockOutChannels: number[];
  downBlockTypes: DownBlockType[];
  layersPerBlock: number;
  /** diffusers' `attention_head_dim`, which UNet2DConditionModel uses as the number of heads per block. */
  attentionHeadDim: number[];
  normGroups: number;
  useLinearProjection: boolean;
  sampleSize: number;
}

export interface VaeShape {
  blockOutChannels: number[];
  layersPerBlock: number;
  normGroups: number;
  /** The single-head self-attention in the mid blocks (costly at large latents: tiny leaves it out). */
  midBlockAttention: boolean;
  sampleSize: number;
}

export interface DiffusionShape {
  text: ClipTextShape;
  unet: UNetShape;
  vae: VaeShape;
}

export const DIFFUSION_SHAPES: Readonly<Record<DiffusionShapeName, Readonly<DiffusionShape>>> = {
  // Attention only below the top resolution (as hf-internal-testing's tiny pipelines do), and no
  // VAE mid attention, so that 128x128 latents (1024x1024 images) stay fast on one core.
  tiny: {
    text: { hiddenSize: 32, layers: 2, heads: 2, intermediateSize: 64 },
    unet: {
      blockOutChannels: [32, 64],
      downBlockTypes: ['DownBlock2D', 'CrossAttnDownBlock2D'],
      layersPerBlock: 1,
      attentionHeadDim: [2, 2],
      normGroups: 8,
      useLinearProjection: true,
      sampleSize: 32,
    },
    vae: { blockOutChannels: [8, 8, 16, 16], layersPerBlock: 1, normGroups: 4, midBlockAttention: false, sampleSize: 256 },
  },
  // stabilityai/sd-turbo (SD 2.1's architecture): OpenCLIP ViT-H's text tower without its last
  // layer, the SD 2.x UNet and the SD VAE.
  'sd-turbo': {
    text: { hiddenSize: 1024, layers: 23, heads: 16, intermediateSize: 4096, vocabSize: 49408 },
    unet: {
      blockOutChannels: [320, 640, 1280, 1280],
      downBlockTypes: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
      layersPerBlock: 2,
      attentionHeadDim: [5, 10, 20, 20],
      normGroups: 32,
      useLinearProjection: true,
      sampleSize: 64,
    },
    vae: { blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, normGroups: 32, midBlockAttention: true, sampleSize: 768 },
  },
};

/** CLIP's context: prompts are padded or truncated to 77 tokens. */
export const CLIP_MAX_LENGTH = 77;
export const SD_SCALING_FACTOR = 0.18215;
const LATENT_CHANNELS = 4;
const DIFFUSERS_VERSION = '0.30.0';
/** Graphs with more weight bytes than this store them as external data (protobuf stops at 2 GB). */
const EXTERNAL_DATA_THRESHOLD = 1 << 30;
/** Tensors smaller than this stay inline even in an external-data graph, as onnx's converter does. */
const EXTERNAL_MIN_BYTES = 1024;
/** External tensors start on 4 KiB boundaries, so ONNX Runtime can map them page-aligned. */
const EXTERNAL_ALIGN = 4096;
const FILL_CHUNK = 1 << 22;

export interface GenerateDiffusionPipelineOptions {
  /** Output folder (created; replaced when it exists). */
  dir: string;
  shape?: DiffusionShapeName;
  seed?: number;
  /** The UNet's timestep input: int64 (Optimum's export) or float. */
  timestepType?: 'int64' | 'float';
  /** Weights as external data (model.onnx_data): true, false, or by default when a graph's weights pass 1 GB. */
  externalData?: boolean;
}

export interface GeneratedDiffusionPipeline {
  dir: string;
  shape: DiffusionShapeName;
  hiddenSize: number;
  latentChannels: 4;
  vaeScale: 8;
  scalingFactor: number;
  /** Parameters of the four graphs together. */
  params: number;
  /** Bytes of the four graphs' files (model.onnx plus any model.onnx_data). */
  bytes: number;
  /** The tokenizer's ids: CLIP's bos and eos are the last two (the pooler finds eos by argmax). */
  vocabSize: number;
  bosId: number;
  eosId: number;
}

/** Writes the pipeline folder (synchronously); returns what it wrote. */
export function generateDiffusionPipeline(options: GenerateDiffusionPipelineOptions): GeneratedDiffusionPipeline {
  const shapeName = options.shape ?? 'tiny';
  const shape = DIFFUSION_SHAPES[shapeName];
  const seed = options.seed ?? 1;
  const timestepType = options.timestepType ?? 'int64';
  const vaeScale = 2 ** (shape.vae.blockOutChannels.length - 1);
  if (vaeScale !== 8) throw new Error('the VAE must have four blocks (a scale of 8)');

  const tmp = `${options.dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tokenizer = clipTokenizer(shape.text.vocabSize);
  writeTokenizer(join(tmp, 'tokenizer'), tokenizer);
  const vocabSize = tokenizer.vocabSize;
  const D = shape.text.hiddenSize;

  const parts: Array<[string, (w: Weights) => void, object]> = [
    ['text_encoder', (w) => buildTextEncoder(w, shape.text, vocabSize, tokenizer.eosId), textEncoderConfig(shape.text, vocabSize, tokenizer)],
    ['unet', (w) => buildUnet(w, shape.unet, D, timestepType), unetConfig(shape.unet, D)],
    ['vae_decoder', (w) => buildVaeDecoder(w, shape.vae), vaeConfig(shape.vae)],
    ['vae_encoder', (w) => buildVaeEncoder(w, shape.vae), vaeConfig(shape.vae)],
  ];
  let params = 0;
  let bytes = 0;
  for (const [part, build, config] of parts) {
    const written = writeGraph(join(tmp, part), part, build, seed, options.externalData);
    params += written.params;
    bytes += written.bytes;
    writeJson(join(tmp, part, 'config.json'), config);
  }
  mkdirSync(join(tmp, 'scheduler'));
  writeJson(join(tmp, 'scheduler', 'scheduler_config.json'), schedulerConfig());
  writeJson(join(tmp, 'model_index.json'), {
    _class_name: 'StableDiffusionPipeline',
    _diffusers_version: DIFFUSERS_VERSION,
    _generated_by: 'switchyard model-gen (random weights)',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'EulerDiscreteScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae_decoder: ['diffusers', 'AutoencoderKL'],
    vae_encoder: ['diffusers', 'AutoencoderKL'],
  });
  rmSync(options.dir, { recursive: true, force: true });
  renameSync(tmp, options.dir);
  return { dir: options.dir, shape: shapeName, hiddenSize: D, latentChannels: 4, vaeScale: 8, scalingFactor: SD_SCALING_FACTOR, params, bytes, vocabSize, bosId: tokenizer.bosId, eosId: tokenizer.eosId };
}

function writeJson(path: string, value: object): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------
// Weights: counted, inline, or streamed to an external data file.

type Sink = { kind: 'count' } | { kind: 'inline' } | { kind: 'external'; fd: number; location: string; offset: number };

/**
 * Creates initializers. A graph is built twice: first with a counting sink (no data made) to learn
 * its size, which decides between inline and external data; then for real. External tensors are
 * generated and written in chunks, so a 3.4 GB UNet never sits in memory.
 */
class Weights {
  params = 0;
  private readonly constants = new Map<number, string>();

  constructor(
    readonly g: OnnxGraph,
    private readonly seed: number,
    private readonly part: string,
    private readonly sink: Sink,
  ) {}

  random(name: string, dims: number[], std: number): string {
    return this.tensor(name, dims, randomFill(hashSeed(this.seed, `${this.part}/${name}`), std));
  }

  fill(name: string, dims: number[], value: number): string {
    return this.tensor(name, dims, (_, out) => out.fill(value));
  }

  private tensor(name: string, dims: number[], fill: TensorFill): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.params += n;
    const sink = this.sink;
    if (sink.kind === 'count') return name;
    if (sink.kind === 'inline' || n * 4 < EXTERNAL_MIN_BYTES) {
      const data = new Float32Array(n);
      fill(0, data);
      return this.g.floats(name, dims, data);
    }
    const offset = sink.offset;
    const chunk = new Float32Array(Math.min(n, FILL_CHUNK));
    for (let start = 0; start < n; start += chunk.length) {
      const view = start + chunk.length <= n ? chunk : chunk.subarray(0, n - start);
      fill(start, view);
      writeSync(sink.fd, new Uint8Array(view.buffer, 0, view.byteLength), 0, view.byteLength, offset + start * 4);
    }
    sink.offset = Math.ceil((offset + n * 4) / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
    return this.g.externalFloats(name, dims, { location: sink.location, offset, length: n * 4 });
  }

  /** A shared float scalar constant (not a parameter). */
  scalar(value: number): string {
    let name = this.constants.get(value);
    if (name === undefined) {
      name = this.g.scalar(value);
      this.constants.set(value, name);
    }
    return name;
  }
}

function writeGraph(dir: string, part: string, build: (w: Weights) => void, seed: number, external?: boolean): { params: number; bytes: number } {
  const counter = new Weights(new OnnxGraph(part), seed, part, { kind: 'count' });
  build(counter);
  const useExternal = external ?? counter.params * 4 > EXTERNAL_DATA_THRESHOLD;
  mkdirSync(dir, { recursive: true });
  const g = new OnnxGraph(part);
  const dataFile = 'model.onnx_data';
  const fd = useExternal ? openSync(join(dir, dataFile), 'w') : -1;
  try {
    const w = new Weights(g, seed, part, useExternal ? { kind: 'external', fd, location: dataFile, offset: 0 } : { kind: 'inline' });
    build(w);
  } finally {
    if (useExternal) closeSync(fd);
  }
  writeFileSync(join(dir, 'model.onnx'), g.encode());
  const bytes = statSync(join(dir, 'model.onnx')).size + (useExternal ? statSync(join(dir, dataFile)).size : 0);
  return { params: counter.params, bytes };
}

// ---------------------------------------------------------------------------------------------
// Layers shared by the three models.

class Nn {
  readonly g: OnnxGraph;
  private readonly ints = new Map<string, string>();

  constructor(readonly w: Weights) {
    this.g = w.g;
  }

  /** A shared int64 constant. */
  i64(values: number[], scalar = false): string {
    const key = `${scalar ? 's' : 'v'}${values.join(',')}`;
    let name = this.ints.get(key);
    if (name === undefined) {
      name = this.g.int64s(this.g.fresh('i64'), scalar ? [] : [values.length], values);
      this.ints.set(key, name);
    }
    return name;
  }

  f(value: number): string {
    return this.w.scalar(value);
  }

  /** x @ W (+ b), W stored [in, out] (PyTorch's weight transposed) with std gain/sqrt(in). */
  linear(x: string, name: string, inDim: number, outDim: number, bias = true, gain = 1): string {
    const y = this.g.op('MatMul', [x, this.w.random(`${name}.weight`, [inDim, outDim], gain / Math.sqrt(inDim))]);
    return bias ? this.g.op('Add', [y, this.w.fill(`${name}.bias`, [outDim], 0)]) : y;
  }

  conv(x: string, name: string, cin: number, cout: number, k: number, opts: { stride?: number; pads?: number[]; gain?: number } = {}): string {
    const p = (k - 1) / 2;
    const weight = this.w.random(`${name}.weight`, [cout, cin, k, k], (opts.gain ?? 1) / Math.sqrt(cin * k * k));
    return this.g.op('Conv', [x, weight, this.w.fill(`${name}.bias`, [cout], 0)], {
      kernel_shape: [k, k],
      strides: [opts.stride ?? 1, opts.stride ?? 1],
      pads: opts.pads ?? [p, p, p, p],
    });
  }

  /**
   * GroupNorm on [N, C, H, W] (GroupNormalization is opset 18): InstanceNormalization over
   * [N, groups, C/groups·H·W] (its own scale and bias left at one and zero), then the per-channel
   * weight and bias.
   */
  groupNorm(x: string, name: string, channels: number, groups: number, eps: number): string {
    const g = this.g;
    const grouped = g.op('Reshape', [x, this.i64([0, groups, -1])]);
    const normed = g.op('InstanceNormalization', [grouped, this.groupOnes(groups, 1), this.groupOnes(groups, 0)], { epsilon: eps });
    const back = g.op('Reshape', [normed, g.op('Shape', [x])]);
    const weight = this.w.fill(`${name}.weight`, [channels, 1, 1], 1);
    const bias = this.w.fill(`${name}.bias`, [channels, 1, 1], 0);
    return g.op('Add', [g.op('Mul', [back, weight]), bias]);
  }

  private readonly groupConsts = new Map<string, string>();
  private groupOnes(groups: number, value: number): string {
    const key = `${groups}:${value}`;
    let name = this.groupConsts.get(key);
    if (name === undefined) {
      name = this.g.floats(this.g.fresh('group_norm_const'), [groups], new Float32Array(groups).fill(value));
      this.groupConsts.set(key, name);
    }
    return name;
  }

  layerNorm(x: string, name: string, dim: number, eps = 1e-5): string {
    return this.g.op('LayerNormalization', [x, this.w.fill(`${name}.weight`, [dim], 1), this.w.fill(`${name}.bias`, [dim], 0)], {
      axis: { int: -1 },
      epsilon: eps,
    });
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  /** GELU, erf form (Gelu itself is opset 20). */
  gelu(x: string): string {
    const g = this.g;
    return g.op('Mul', [g.op('Mul', [x, this.f(0.5)]), g.op('Add', [g.op('Erf', [g.op('Div', [x, this.f(Math.SQRT2)])]), this.f(1)])]);
  }

  /**
   * Multi-head attention of `x` [B, Lq, dim] over `context` [B, Lk, contextDim] (x itself for
   * self-attention); `mask` is added to the scores.
   */
  attention(
    x: string,
    context: string,
    names: { q: string; k: string; v: string; out: string },
    dim: number,
    contextDim: number,
    heads: number,
    qkvBias: boolean,
    mask?: string,
  ): string {
    const g = this.g;
    const headDim = dim / heads;
    const split = this.i64([0, 0, heads, headDim]);
    const q = g.op('Transpose', [g.op('Reshape', [this.linear(x, names.q, dim, dim, qkvBias), split])], { perm: [0, 2, 1, 3] });
    const kT = g.op('Transpose', [g.op('Reshape', [this.linear(context, names.k, contextDim, dim, qkvBias), split])], { perm: [0, 2, 3, 1] });
    const v = g.op('Transpose', [g.op('Reshape', [this.linear(context, names.v, contextDim, dim, qkvBias), split])], { perm: [0, 2, 1, 3] });
    let scores = g.op('MatMul', [g.op('Mul', [q, this.f(1 / Math.sqrt(headDim))]), kT]);
    if (mask) scores = g.op('Add', [scores, mask]);
    const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
    const merged = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), this.i64([0, 0, dim])]);
    return this.linear(merged, names.out, dim, dim, true, 0.5);
  }

  /** [B, C, H, W] → [B, H·W, C]. */
  toTokens(x: string, channels: number): string {
    return this.g.op('Reshape', [this.g.op('Transpose', [x], { perm: [0, 2, 3, 1] }), this.i64([0, -1, channels])]);
  }

  /** [B, H·W, C] → [B, C, H, W], H and W those of `like`. */
  fromTokens(x: string, like: string): string {
    const g = this.g;
    const bhwc = g.op('Gather', [g.op('Shape', [like]), this.i64([0, 2, 3, 1])], { axis: { int: 0 } });
    return g.op('Transpose', [g.op('Reshape', [x, bhwc])], { perm: [0, 3, 1, 2] });
  }

  /**
   * diffusers' ResnetBlock2D: GroupNorm, SiLU, conv3x3, + the projected time embedding, GroupNorm,
   * SiLU, conv3x3, plus the input (through a 1x1 conv when the channel count changes).
   */
  resnet(x: string, name: string, cin: number, cout: number, groups: number, eps: number, temb?: { act: string; dim: number }): string {
    const g = this.g;
    let h = this.conv(this.silu(this.groupNorm(x, `${name}.norm1`, cin, groups, eps)), `${name}.conv1`, cin, cout, 3);
    if (temb) {
      const t = this.linear(temb.act, `${name}.time_emb_proj`, temb.dim, cout);
      h = g.op('Add', [h, g.op('Unsqueeze', [t, this.i64([2, 3])])]);
    }
    h = this.conv(this.silu(this.groupNorm(h, `${name}.norm2`, cout, groups, eps)), `${name}.conv2`, cout, cout, 3, { gain: 0.5 });
    const shortcut = cin === cout ? x : this.conv(x, `${name}.conv_shortcut`, cin, cout, 1);
    return g.op('Add', [shortcut, h]);
  }

  /** Nearest-neighbour upsampling (PyTorch's: asymmetric, floor) to `sizes` or by 2, then conv3x3. */
  upsample(x: string, name: string, channels: number, like?: string): string {
    const g = this.g;
    const attrs = { mode: { str: 'nearest' }, coordinate_transformation_mode: { str: 'asymmetric' }, nearest_mode: { str: 'floor' } };
    let up: string;
    if (like) {
      // To the skip connection's size, so odd sizes (downsampled with rounding up) still concatenate.
      const nc = g.op('Slice', [g.op('Shape', [x]), this.i64([0]), this.i64([2])]);
      const hw = g.op('Slice', [g.op('Shape', [like]), this.i64([2]), this.i64([4])]);
      up = g.op('Resize', [x, '', '', g.op('Concat', [nc, hw], { axis: { int: 0 } })], attrs);
    } else {
      up = g.op('Resize', [x, '', g.floats(g.fresh('upsample_scales'), [4], Float32Array.of(1, 1, 2, 2))], attrs);
    }
    return this.conv(up, `${name}.conv`, channels, channels, 3);
  }
}

// ---------------------------------------------------------------------------------------------
// CLIPTextModel.

function buildTextEncoder(w: Weights, s: ClipTextShape, vocabSize: number, eosId: number): void {
  const nn = new Nn(w);
  const g = nn.g;
  const D = s.hiddenSize;
  if (D % s.heads !== 0) throw new Error('text hidden size must be a multiple of heads');
  if (eosId !== vocabSize - 1) throw new Error('the pooler takes the argmax of the ids: eos must be the last id');
  const ids = g.input('input_ids', OnnxType.INT64, ['batch', CLIP_MAX_LENGTH]);
  const p = 'text_model';
  const tokens = g.op('Gather', [w.random(`${p}.embeddings.token_embedding.weight`, [vocabSize, D], 0.5), ids]);
  const seqLen = g.op('Gather', [g.op('Shape', [ids]), nn.i64([1], true)], { axis: { int: 0 } });
  const positionIds = g.op('Range', [nn.i64([0], true), seqLen, nn.i64([1], true)]);
  const positions = g.op('Gather', [w.random(`${p}.embeddings.position_embedding.weight`, [CLIP_MAX_LENGTH, D], 0.5), positionIds]);
  let x = g.op('Add', [tokens, positions]);

  // Causal mask [L, L]: a position sees itself and those before it.
  const later = g.op('Greater', [g.op('Unsqueeze', [positionIds, nn.i64([0])]), g.op('Unsqueeze', [positionIds, nn.i64([1])])]);
  const mask = g.op('Where', [later, nn.f(-1e9), nn.f(0)]);

  for (let l = 0; l < s.layers; l++) {
    const q = `${p}.encoder.layers.${l}`;
    const a = `${q}.self_attn`;
    const normed = nn.layerNorm(x, `${q}.layer_norm1`, D);
    x = g.op('Add', [x, nn.attention(normed, normed, { q: `${a}.q_proj`, k: `${a}.k_proj`, v: `${a}.v_proj`, out: `${a}.out_proj` }, D, D, s.heads, true, mask)]);
    const inner = nn.gelu(nn.linear(nn.layerNorm(x, `${q}.layer_norm2`, D), `${q}.mlp.fc1`, D, s.intermediateSize));
    x = g.op('Add', [x, nn.linear(inner, `${q}.mlp.fc2`, s.intermediateSize, D, true, 0.5)]);
  }
  const last = nn.layerNorm(x, `${p}.final_layer_norm`, D);
  g.op('Identity', [last], {}, 'last_hidden_state');
  // CLIP's pooler: the hidden state where the ids are largest, the (first) eos, the last id.
  const eosAt = g.op('ArgMax', [g.op('Cast', [ids], { to: { int: OnnxType.INT32 } })], { axis: { int: -1 }, keepdims: { int: 0 } });
  g.op('GatherND', [last, g.op('Unsqueeze', [eosAt, nn.i64([1])])], { batch_dims: { int: 1 } }, 'pooler_output');
  g.output('last_hidden_state', OnnxType.FLOAT, ['batch', CLIP_MAX_LENGTH, D]);
  g.output('pooler_output', OnnxType.FLOAT, ['batch', D]);
}

// ---------------------------------------------------------------------------------------------
// UNet2DConditionModel.

/** Transformer2DModel with one BasicTransformerBlock (self-attention, cross-attention, GEGLU). */
function transformer2d(nn: Nn, x: string, name: string, C: number, heads: number, context: string, contextDim: number, s: UNetShape): string {
  const g = nn.g;
  const normed = nn.groupNorm(x, `${name}.norm`, C, s.normGroups, 1e-6);
  let h = s.useLinearProjection
    ? nn.linear(nn.toTokens(normed, C), `${name}.proj_in`, C, C)
    : nn.toTokens(nn.conv(normed, `${name}.proj_in`, C, C, 1), C);
  const b = `${name}.transformer_blocks.0`;
  const attn = (n: string): { q: string; k: string; v: string; out: string } => ({ q: `${n}.to_q`, k: `${n}.to_k`, v: `${n}.to_v`, out: `${n}.to_out.0` });
  const n1 = nn.layerNorm(h, `${b}.norm1`, C);
  h = g.op('Add', [h, nn.attention(n1, n1, attn(`${b}.attn1`), C, C, heads, false)]);
  h = g.op('Add', [h, nn.attention(nn.layerNorm(h, `${b}.norm2`, C), context, attn(`${b}.attn2`), C, contextDim, heads, false)]);
  const inner = 4 * C;
  const proj = nn.linear(nn.layerNorm(h, `${b}.norm3`, C), `${b}.ff.net.0.proj`, C, 2 * inner);
  const lastAxis = nn.i64([-1]);
  const value = g.op('Slice', [proj, nn.i64([0]), nn.i64([inner]), lastAxis]);
  const gate = g.op('Slice', [proj, nn.i64([inner]), nn.i64([2 * inner]), lastAxis]);
  h = g.op('Add', [h, nn.linear(g.op('Mul', [value, nn.gelu(gate)]), `${b}.ff.net.2`, inner, C, true, 0.5)]);
  const out = s.useLinearProjection
    ? nn.fromTokens(nn.linear(h, `${name}.proj_out`, C, C, true, 0.5), x)
    : nn.conv(nn.fromTokens(h, x), `${name}.proj_out`, C, C, 1, { gain: 0.5 });
  return g.op('Add', [out, x]);
}

function buildUnet(w: Weights, s: UNetShape, contextDim: number, timestepType: 'int64' | 'float'): void {
  const nn = new Nn(w);
  const g = nn.g;
  const blocks = s.blockOutChannels;
  const C0 = blocks[0]!;
  const T = 4 * C0;
  const eps = 1e-5;
  const sample = g.input('sample', OnnxType.FLOAT, ['batch', LATENT_CHANNELS, 'height', 'width']);
  const timestep = g.input('timestep', timestepType === 'int64' ? OnnxType.INT64 : OnnxType.FLOAT, ['batch']);
  const context = g.input('encoder_hidden_states', OnnxType.FLOAT, ['batch', CLIP_MAX_LENGTH, contextDim]);

  // Timesteps (flip_sin_to_cos, freq_shift 0): [cos(t·f), sin(t·f)], f_i = 10000^(-i/half).
  const half = C0 / 2;
  const freqs = g.floats('time_proj.freqs', [1, half], Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half)));
  const t = timestepType === 'int64' ? g.op('Cast', [timestep], { to: { int: OnnxType.FLOAT } }) : timestep;
  const args = g.op('Mul', [g.op('Unsqueeze', [t, nn.i64([1])]), freqs]);
  const tproj = g.op('Concat', [g.op('Cos', [args]), g.op('Sin', [args])], { axis: { int: 1 } });
  const temb = nn.linear(nn.silu(nn.linear(tproj, 'time_embedding.linear_1', C0, T)), 'time_embedding.linear_2', T, T);
  // Every resnet applies SiLU to the embedding before its own projection: once is enough.
  const tembAct = { act: nn.silu(temb), dim: T };

  let h = nn.conv(sample, 'conv_in', LATENT_CHANNELS, C0, 3);
  let ch = C0;
  const skips: Array<{ x: string; ch: number }> = [{ x: h, ch }];
  blocks.forEach((out, i) => {
    const cross = s.downBlockTypes[i] === 'CrossAttnDownBlock2D';
    for (let j = 0; j < s.layersPerBlock; j++) {
      h = nn.resnet(h, `down_blocks.${i}.resnets.${j}`, ch, out, s.normGroups, eps, tembAct);
      ch = out;
      if (cross) h = transformer2d(nn, h, `down_blocks.${i}.attentions.${j}`, ch, s.attentionHeadDim[i]!, context, contextDim, s);
      skips.push({ x: h, ch });
    }
    if (i < blocks.length - 1) {
      h = nn.conv(h, `down_blocks.${i}.downsamplers.0.conv`, ch, ch, 3, { stride: 2 });
      skips.push({ x: h, ch });
    }
  });

  // UNetMidBlock2DCrossAttn.
  h = nn.resnet(h, 'mid_block.resnets.0', ch, ch, s.normGroups, eps, tembAct);
  h = transformer2d(nn, h, 'mid_block.attentions.0', ch, s.attentionHeadDim[blocks.length - 1]!, context, contextDim, s);
  h = nn.resnet(h, 'mid_block.resnets.1', ch, ch, s.normGroups, eps, tembAct);

  const reversed = [...blocks].reverse();
  const reversedTypes = [...s.downBlockTypes].reverse();
  const reversedHeads = [...s.attentionHeadDim].reverse();
  reversed.forEach((out, i) => {
    const cross = reversedTypes[i] === 'CrossAttnDownBlock2D';
    for (let j = 0; j < s.layersPerBlock + 1; j++) {
      const skip = skips.pop()!;
      h = nn.resnet(g.op('Concat', [h, skip.x], { axis: { int: 1 } }), `up_blocks.${i}.resnets.${j}`, ch + skip.ch, out, s.normGroups, eps, tembAct);
      ch = out;
      if (cross) h = transformer2d(nn, h, `up_blocks.${i}.attentions.${j}`, ch, reversedHeads[i]!, context, contextDim, s);
    }
    if (i < reversed.length - 1) h = nn.upsample(h, `up_blocks.${i}.upsamplers.0`, ch, skips[skips.length - 1]!.x);
  });
  const normed = nn.silu(nn.groupNorm(h, 'conv_norm_out', ch, s.normGroups, eps));
  g.op('Identity', [nn.conv(normed, 'conv_out', ch, LATENT_CHANNELS, 3)], {}, 'out_sample');
  g.output('out_sample', OnnxType.FLOAT, ['batch', LATENT_CHANNELS, 'height', 'width']);
}

// ---------------------------------------------------------------------------------------------
// AutoencoderKL.

/** The VAE's mid-block Attention: single head over all positions, with its own GroupNorm and a residual. */
function vaeAttention(nn: Nn, x: string, name: string, C: number, groups: number): string {
  const tokens = nn.toTokens(nn.groupNorm(x, `${name}.group_norm`, C, groups, 1e-6), C);
  const attended = nn.attention(tokens, tokens, { q: `${name}.to_q`, k: `${name}.to_k`, v: `${name}.to_v`, out: `${name}.to_out.0` }, C, C, 1, true);
  return nn.g.op('Add', [nn.fromTokens(attended, x), x]);
}

function vaeMid(nn: Nn, x: string, prefix: string, C: number, s: VaeShape): string {
  let h = nn.resnet(x, `${prefix}.mid_block.resnets.0`, C, C, s.normGroups, 1e-6);
  if (s.midBlockAttention) h = vaeAttention(nn, h, `${prefix}.mid_block.attentions.0`, C, s.normGroups);
  return nn.resnet(h, `${prefix}.mid_block.resnets.1`, C, C, s.normGroups, 1e-6);
}

function buildVaeEncoder(w: Weights, s: VaeShape): void {
  const nn = new Nn(w);
  const g = nn.g;
  const blocks = s.blockOutChannels;
  const sample = g.input('sample', OnnxType.FLOAT, ['batch', 3, 'height', 'width']);
  let ch = blocks[0]!;
  let h = nn.conv(sample, 'encoder.conv_in', 3, ch, 3);
  blocks.forEach((out, i) => {
    for (let j = 0; j < s.layersPerBlock; j++) {
      h = nn.resnet(h, `encoder.down_blocks.${i}.resnets.${j}`, ch, out, s.normGroups, 1e-6);
      ch = out;
    }
    // diffusers' Downsample2D with padding 0 pads right and bottom by one before the stride-2 conv.
    if (i < blocks.length - 1) h = nn.conv(h, `encoder.down_blocks.${i}.downsamplers.0.conv`, ch, ch, 3, { stride: 2, pads: [0, 0, 1, 1] });
  });
  h = vaeMid(nn, h, 'encoder', ch, s);
  const moments = nn.conv(nn.silu(nn.groupNorm(h, 'encoder.conv_norm_out', ch, s.normGroups, 1e-6)), 'encoder.conv_out', ch, 2 * LATENT_CHANNELS, 3);
  const quant = nn.conv(moments, 'quant_conv', 2 * LATENT_CHANNELS, 2 * LATENT_CHANNELS, 1);
  // The posterior is a diagonal Gaussian (mean, log-variance); Optimum's older exports output its
  // mean as latent_sample (the pipeline scales it by scaling_factor), so: the first four channels.
  g.op('Slice', [quant, nn.i64([0]), nn.i64([LATENT_CHANNELS]), nn.i64([1])], {}, 'latent_sample');
  g.output('latent_sample', OnnxType.FLOAT, ['batch', LATENT_CHANNELS, 'latent_height', 'latent_width']);
}

function buildVaeDecoder(w: Weights, s: VaeShape): void {
  const nn = new Nn(w);
  const g = nn.g;
  const reversed = [...s.blockOutChannels].reverse();
  const latent = g.input('latent_sample', OnnxType.FLOAT, ['batch', LATENT_CHANNELS, 'latent_height', 'latent_width']);
  const z = nn.conv(latent, 'post_quant_conv', LATENT_CHANNELS, LATENT_CHANNELS, 1);
  let ch = reversed[0]!;
  let h = nn.conv(z, 'decoder.conv_in', LATENT_CHANNELS, ch, 3);
  h = vaeMid(nn, h, 'decoder', ch, s);
  reversed.forEach((out, i) => {
    for (let j = 0; j < s.layersPerBlock + 1; j++) {
      h = nn.resnet(h, `decoder.up_blocks.${i}.resnets.${j}`, ch, out, s.normGroups, 1e-6);
      ch = out;
    }
    if (i < reversed.length - 1) h = nn.upsample(h, `decoder.up_blocks.${i}.upsamplers.0`, ch);
  });
  const normed = nn.silu(nn.groupNorm(h, 'decoder.conv_norm_out', ch, s.normGroups, 1e-6));
  g.op('Identity', [nn.conv(normed, 'decoder.conv_out', ch, 3, 3, { gain: 0.6 })], {}, 'sample');
  g.output('sample', OnnxType.FLOAT, ['batch', 3, 'height', 'width']);
}

// ---------------------------------------------------------------------------------------------
// Configs.

function textEncoderConfig(s: ClipTextShape, vocabSize: number, tok: ClipTokenizer): object {
  return {
    _name_or_path: 'switchyard/random-clip-text',
    _generated_by: 'switchyard model-gen (random weights)',
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    attention_dropout: 0,
    bos_token_id: tok.bosId,
    eos_token_id: tok.eosId,
    pad_token_id: tok.eosId,
    hidden_act: 'gelu',
    hidden_size: s.hiddenSize,
    initializer_factor: 1,
    initializer_range: 0.02,
    intermediate_size: s.intermediateSize,
    layer_norm_eps: 1e-5,
    max_position_embeddings: CLIP_MAX_LENGTH,
    num_attention_heads: s.heads,
    num_hidden_layers: s.layers,
    projection_dim: Math.min(512, s.hiddenSize),
    torch_dtype: 'float32',
    vocab_size: vocabSize,
  };
}

function unetConfig(s: UNetShape, contextDim: number): object {
  return {
    _class_name: 'UNet2DConditionModel',
    _diffusers_version: DIFFUSERS_VERSION,
    act_fn: 'silu',
    attention_head_dim: s.attentionHeadDim,
    block_out_channels: s.blockOutChannels,
    center_input_sample: false,
    cross_attention_dim: contextDim,
    down_block_types: s.downBlockTypes,
    downsample_padding: 1,
    dual_cross_attention: false,
    flip_sin_to_cos: true,
    freq_shift: 0,
    in_channels: LATENT_CHANNELS,
    layers_per_block: s.layersPerBlock,
    mid_block_scale_factor: 1,
    mid_block_type: 'UNetMidBlock2DCrossAttn',
    norm_eps: 1e-5,
    norm_num_groups: s.normGroups,
    num_class_embeds: null,
    only_cross_attention: false,
    out_channels: LATENT_CHANNELS,
    sample_size: s.sampleSize,
    time_embedding_type: 'positional',
    transformer_layers_per_block: 1,
    up_block_types: [...s.downBlockTypes].reverse().map((t) => (t === 'CrossAttnDownBlock2D' ? 'CrossAttnUpBlock2D' : 'UpBlock2D')),
    upcast_attention: false,
    use_linear_projection: s.useLinearProjection,
  };
}

function vaeConfig(s: VaeShape): object {
  const n = s.blockOutChannels.length;
  return {
    _class_name: 'AutoencoderKL',
    _diffusers_version: DIFFUSERS_VERSION,
    act_fn: 'silu',
    block_out_channels: s.blockOutChannels,
    down_block_types: Array<string>(n).fill('DownEncoderBlock2D'),
    in_channels: 3,
    latent_channels: LATENT_CHANNELS,
    layers_per_block: s.layersPerBlock,
    mid_block_add_attention: s.midBlockAttention,
    norm_num_groups: s.normGroups,
    out_channels: 3,
    sample_size: s.sampleSize,
    scaling_factor: SD_SCALING_FACTOR,
    up_block_types: Array<string>(n).fill('UpDecoderBlock2D'),
  };
}

function schedulerConfig(): object {
  return {
    _class_name: 'EulerDiscreteScheduler',
    _diffusers_version: DIFFUSERS_VERSION,
    num_train_timesteps: 1000,
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    prediction_type: 'epsilon',
    timestep_spacing: 'trailing',
    steps_offset: 1,
    interpolation_type: 'linear',
    use_karras_sigmas: false,
    trained_betas: null,
  };
}

// ---------------------------------------------------------------------------------------------
// The CLIP tokenizer: byte-level BPE with "</w>" word ends.

export interface ClipTokenizer {
  vocab: Map<string, number>;
  merges: Array<[string, string]>;
  bosId: number;
  eosId: number;
  /** Highest id + 1 (the text encoder's embedding rows). */
  vocabSize: number;
}

export const CLIP_BOS = '<|startoftext|>';
export const CLIP_EOS = '<|endoftext|>';

/**
 * Words the merges are learned from, so that common prompt words become one token each (the rest
 * split into pieces and bytes, as CLIP's own vocabulary does with rare words).
 */
const WORDS = (
  'a an the of in on at to with and or for from by is are was be this that it its as up over under near ' +
  'photo photograph picture image painting drawing illustration portrait landscape render sketch art style ' +
  'cat dog bird horse fish lion tiger bear wolf fox rabbit mouse cow sheep owl dragon robot person man woman ' +
  'child boy girl people face eyes hair hand city street house building castle tower bridge road car train ' +
  'boat ship plane tree forest flower garden grass field mountain river lake sea ocean beach sky cloud clouds ' +
  'sun moon star stars night day morning evening sunset sunrise rain snow winter summer spring autumn water ' +
  'fire light dark shadow red blue green yellow orange purple pink black white gray gold silver brown colorful ' +
  'beautiful cute small big large tiny old young new happy detailed highly realistic photorealistic cinematic ' +
  'dramatic lighting sharp focus soft high quality resolution masterpiece digital oil watercolor studio ' +
  'background foreground close view wide angle lens camera shot trending artstation unreal engine octane ' +
  'fantasy science fiction futuristic ancient medieval magic epic space planet galaxy astronaut riding ' +
  'sitting standing walking running flying wearing holding looking table chair window door room book cup'
).split(' ');

/** GPT-2's byte-to-character table, in CLIP's vocabulary order (printable bytes first). */
function byteCharacters(): string[] {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.map((b) => String.fromCharCode(b));
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(String.fromCharCode(256 + extra++));
    }
  }
  return chars;
}

/**
 * Learns BPE merges on WORDS (each word once; ties go to the pair seen first) until every word is
 * one token. `vocabSize`: pad the id space to this size with the special tokens last, as in CLIP's
 * 49408 (unused ids in between); default: just the tokens.
 */
export function clipTokenizer(vocabSize?: number): ClipTokenizer {
  const base = byteCharacters();
  const tokens = [...base, ...base.map((c) => `${c}</w>`)];
  const words = WORDS.map((word) => {
    const symbols = [...word];
    symbols[symbols.length - 1] += '</w>';
    return symbols;
  });
  const merges: Array<[string, string]> = [];
  const known = new Set(tokens);
  for (;;) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]} ${w[i + 1]}`, (counts.get(`${w[i]} ${w[i + 1]}`) ?? 0) + 1);
    let best: string | undefined;
    let bestCount = 0;
    for (const [pair, count] of counts) {
      if (count > bestCount) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    // Two pairs can make one string ('ab c', 'a bc'): it is one token.
    if (!known.has(left + right)) {
      known.add(left + right);
      tokens.push(left + right);
    }
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) {
        if (w[i] === left && w[i + 1] === right) w.splice(i, 2, left + right);
      }
    }
  }
  const size = Math.max(vocabSize ?? 0, tokens.length + 2);
  const vocab = new Map(tokens.map((t, i) => [t, i]));
  return { vocab, merges, bosId: size - 2, eosId: size - 1, vocabSize: size };
}

function writeTokenizer(dir: string, tok: ClipTokenizer): void {
  mkdirSync(dir, { recursive: true });
  const vocab = Object.fromEntries([...tok.vocab, [CLIP_BOS, tok.bosId], [CLIP_EOS, tok.eosId]]);
  // CLIP's fast tokenizer.json: NFC, whitespace runs to one space, lowercase; its word regex, then
  // byte-level characters; BPE with "</w>" word ends; bos ... eos around every sequence.
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(tok.bosId, CLIP_BOS, true), addedToken(tok.eosId, CLIP_EOS, true)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [CLIP_EOS, tok.eosId], cls: [CLIP_BOS, tok.bosId], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: CLIP_EOS,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: tok.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const special = (content: string): object => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), ['#version: 0.2', ...tok.merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n');
  writeJson(join(dir, 'tokenizer_config.json'), {
    add_prefix_space: false,
    added_tokens_decoder: {
      [String(tok.bosId)]: { ...special(CLIP_BOS), special: true },
      [String(tok.eosId)]: { ...special(CLIP_EOS), special: true },
    },
    bos_token: CLIP_BOS,
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    eos_token: CLIP_EOS,
    errors: 'replace',
    model_max_length: CLIP_MAX_LENGTH,
    pad_token: CLIP_EOS,
    tokenizer_class: 'CLIPTokenizer',
    unk_token: CLIP_EOS,
  });
  writeJson(join(dir, 'special_tokens_map.json'), { bos_token: special(CLIP_BOS), eos_token: special(CLIP_EOS), pad_token: special(CLIP_EOS), unk_token: special(CLIP_EOS) });
}
