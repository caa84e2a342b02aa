/**
 * Building blocks shared by the Whisper encoder and decoder graphs: seeded random weights named as
 * in Hugging Face's WhisperForConditionalGeneration (so a weight's values depend only on the seed and
 * its name), linear layers, LayerNorm, GELU and multi-head attention on [batch, heads, seq, head_dim].
 */
import { hashSeed, randomFill } from '../llama-model';
import { OnnxGraph } from './onnx-graph';

export interface WhisperShape {
  dModel: number;
  encoderLayers: number;
  decoderLayers: number;
  heads: number;
  ffnDim: number;
  /** Mel bins (80; large-v3 uses 128). */
  melBins: number;
}

/** Encoder frames per 30 s window (3000 mel frames halved by the second convolution). */
export const ENCODER_FRAMES = 1500;
/** Decoder positions. */
export const MAX_TARGET_POSITIONS = 448;

export class WhisperLayers {
  params = 0;
  private readonly splitShape: string;
  private readonly mergeShape: string;
  readonly headDim: number;

  constructor(
    readonly g: OnnxGraph,
    readonly shape: WhisperShape,
    private readonly seed: number,
  ) {
    if (shape.dModel % shape.heads !== 0) throw new Error('dModel must be a multiple of heads');
    this.headDim = shape.dModel / shape.heads;
    this.splitShape = g.int64s('split_heads_shape', [4], [0, 0, shape.heads, this.headDim]);
    this.mergeShape = g.int64s('merge_heads_shape', [3], [0, 0, shape.dModel]);
  }

  weight(name: string, dims: number[], std: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    randomFill(hashSeed(this.seed, name), std)(0, data);
    this.params += n;
    return this.g.floats(name, dims, data);
  }

  constant(name: string, dims: number[], value: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.params += n;
    return this.g.floats(name, dims, new Float32Array(n).fill(value));
  }

  /** x @ W (+ b). Whisper's k_proj has no bias. */
  linear(x: string, name: string, inDim: number, outDim: number, bias = true, g = this.g): string {
    const y = g.op('MatMul', [x, this.weight(`${name}.weight`, [inDim, outDim], 1 / Math.sqrt(inDim))]);
    return bias ? g.op('Add', [y, this.constant(`${name}.bias`, [outDim], 0)]) : y;
  }

  layerNorm(x: string, name: string): string {
    const d = this.shape.dModel;
    return this.g.op('LayerNormalization', [x, this.constant(`${name}.weight`, [d], 1), this.constant(`${name}.bias`, [d], 0)], {
      axis: { int: -1 },
      epsilon: 1e-5,
    });
  }

  /** GELU, erf form (the Gelu operator is opset 20). */
  gelu(x: string): string {
    const g = this.g;
    return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2)])]), g.scalar(1)])]);
  }

  /** [batch, seq, d] -> [batch, heads, seq, head_dim]. */
  splitHeads(x: string, g = this.g): string {
    return g.op('Transpose', [g.op('Reshape', [x, this.splitShape])], { perm: [0, 2, 1, 3] });
  }

  /** [batch, heads, seq, head_dim] -> [batch, seq, d]. */
  mergeHeads(x: string): string {
    return this.g.op('Reshape', [this.g.op('Transpose', [x], { perm: [0, 2, 1, 3] }), this.mergeShape]);
  }

  /** Scaled dot-product attention; q is already scaled. Returns the context and the probabilities. */
  attend(q: string, k: string, v: string, mask?: string): { context: string; probs: string } {
    const g = this.g;
    let scores = g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
    if (mask) scores = g.op('Add', [scores, mask]);
    const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
    return { context: g.op('MatMul', [probs, v]), probs };
  }

  /** Whisper's feed-forward block: fc1, GELU, fc2. */
  feedForward(x: string, prefix: string): string {
    const { dModel, ffnDim } = this.shape;
    return this.linear(this.gelu(this.linear(x, `${prefix}.fc1`, dModel, ffnDim)), `${prefix}.fc2`, ffnDim, dModel);
  }

  /** 1 / sqrt(head_dim), applied to q as Hugging Face's Whisper does. */
  get attentionScale(): number {
    return 1 / Math.sqrt(this.headDim);
  }
}

/** Whisper's sinusoidal encoder positions: [length, channels], sines then cosines. */
export function sinusoids(length: number, channels: number): Float32Array {
  const half = channels / 2;
  const increment = Math.log(10000) / (half - 1);
  const out = new Float32Array(length * channels);
  for (let t = 0; t < length; t++) {
    for (let i = 0; i < half; i++) {
      const angle = t * Math.exp(-increment * i);
      out[t * channels + i] = Math.sin(angle);
      out[t * channels + half + i] = Math.cos(angle);
    }
  }
  return out;
}
