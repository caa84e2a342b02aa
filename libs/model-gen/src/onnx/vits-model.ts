/**
 * Writes a random-weight VITS voice in the layout sherpa-onnx loads (one `model.onnx` with the
 * voice's settings in its metadata, plus `tokens.txt`), so text to speech can be served and tested
 * offline. The graph does a VITS voice's real work in the same order: token embedding, a text
 * encoder, per-token durations scaled by `length_scale` (sherpa passes 1/speed), length regulation
 * to frames, a speaker embedding, the flow's coupling layers (reversed, as at inference) and a
 * HiFi-GAN decoder upsampling each frame to 256 samples. The text encoder is convolutional
 * (Piper's is attention over a few dozen tokens; the flow and decoder dominate a voice's cost) and
 * the stochastic duration predictor is left out. Random weights make noise of the right length,
 * different per speaker, deterministic for one input.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashSeed, randomFill } from '../llama-model';
import { OnnxGraph, OnnxType } from './onnx-graph';

export type VitsShapeName = 'tiny' | 'piper-x-low' | 'piper-medium';

interface VitsShape {
  hidden: number;
  encoderLayers: number;
  filter: number;
  /** HiFi-GAN: channels after conv_pre, upsampling rates (product 256), resblock kernels with each kernel's dilations. */
  upsampleInitialChannel: number;
  upsampleRates: number[];
  resblockKernels: number[];
  resblockDilations: number[][];
  /** HiFi-GAN's resblock kinds: '1' is two convolutions per dilation, '2' one. */
  resblock: '1' | '2';
  /** The flow: coupling layers, and the gated convolution layers in each. */
  flowLayers: number;
  flowWnLayers: number;
  sampleRate: number;
}

/**
 * Piper's training presets (piper_train): "medium" is its VitsModel defaults, hidden 192, filter
 * 768, six encoder layers, a HiFi-GAN of resblock kind 2 (kernels 3,5,7 with dilations 1,2 / 2,6 /
 * 3,12), rates 8,8,4 from 256 channels, 22.05 kHz; "x_low" narrows the encoder to 96/384 at 16 kHz.
 * ("high" is the full HiFi-GAN V1 decoder of 512 channels.)
 */
function piper(hidden: number, filter: number, sampleRate: number): VitsShape {
  return { hidden, encoderLayers: 6, filter, upsampleInitialChannel: 256, upsampleRates: [8, 8, 4], resblockKernels: [3, 5, 7], resblockDilations: [[1, 2], [2, 6], [3, 12]], resblock: '2', flowLayers: 4, flowWnLayers: 4, sampleRate };
}

export const VITS_SHAPES: Readonly<Record<VitsShapeName, Readonly<VitsShape>>> = {
  tiny: { hidden: 16, encoderLayers: 1, filter: 32, upsampleInitialChannel: 16, upsampleRates: [8, 8, 2, 2], resblockKernels: [3], resblockDilations: [[1]], resblock: '1', flowLayers: 1, flowWnLayers: 1, sampleRate: 16000 },
  'piper-x-low': piper(96, 384, 16000),
  'piper-medium': piper(192, 768, 22050),
};

/** Samples per frame (the product of the upsampling rates). */
export const VITS_HOP = 256;

/** Frames per token at length_scale 1: e^bias, so about 5 (~80 ms at 16 kHz). */
const DURATION_BIAS = Math.log(5);

/** The character table: pad, then printable ASCII (sherpa's character frontend maps each character of the text). */
const SYMBOLS = ['_', ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter((c) => c !== '_')];

export interface GenerateVitsModelOptions {
  dir: string;
  shape?: VitsShapeName;
  seed?: number;
  /** Speakers (a `sid` input when more than one); default 2 for tiny, 1 for piper-medium. */
  speakers?: number;
}

export interface GeneratedVitsModel {
  dir: string;
  modelPath: string;
  tokensPath: string;
  sampleRate: number;
  speakers: number;
  bytes: number;
  params: number;
}

class Weights {
  params = 0;
  constructor(
    readonly g: OnnxGraph,
    private readonly seed: number,
  ) {}

  random(name: string, dims: number[], std: number, mean = 0): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    randomFill(hashSeed(this.seed, name), std)(0, data);
    if (mean !== 0) for (let i = 0; i < n; i++) data[i] += mean;
    this.params += n;
    return this.g.floats(name, dims, data);
  }

  zeros(name: string, dims: number[]): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.params += n;
    return this.g.floats(name, dims, new Float32Array(n));
  }

  /** Conv1d on [1, C, T] keeping the length ('same' padding for odd kernels). */
  conv(x: string, name: string, cin: number, cout: number, k: number, dilation = 1, gain = 1): string {
    const pad = (dilation * (k - 1)) / 2;
    const w = this.random(`${name}.weight`, [cout, cin, k], gain / Math.sqrt(cin * k));
    return this.g.op('Conv', [x, w, this.zeros(`${name}.bias`, [cout])], { kernel_shape: [k], dilations: [dilation], pads: [pad, pad] });
  }

  /** ConvTranspose1d upsampling the length by `rate` (kernel 2·rate, HiFi-GAN's). */
  upsample(x: string, name: string, cin: number, cout: number, rate: number): string {
    const k = 2 * rate;
    const pad = (k - rate) / 2;
    const w = this.random(`${name}.weight`, [cin, cout, k], 1 / Math.sqrt((cin * k) / rate));
    return this.g.op('ConvTranspose', [x, w, this.zeros(`${name}.bias`, [cout])], { kernel_shape: [k], strides: [rate], pads: [pad, pad] });
  }
}

/** One reversed residual coupling layer, mean-only as in VITS: x1 -= WN(x0), then the channels flipped. */
function coupling(w: Weights, x: string, name: string, channels: number, wnLayers: number): string {
  const g = w.g;
  const half = channels / 2;
  const hidden = channels;
  const axis1 = g.int64s(`${name}.axis`, [1], [1]);
  const x0 = g.op('Slice', [x, g.int64s(`${name}.x0.start`, [1], [0]), g.int64s(`${name}.x0.end`, [1], [half]), axis1]);
  const x1 = g.op('Slice', [x, g.int64s(`${name}.x1.start`, [1], [half]), g.int64s(`${name}.x1.end`, [1], [channels]), axis1]);
  let h = w.conv(x0, `${name}.pre`, half, hidden, 1);
  let skip: string | undefined;
  for (let l = 0; l < wnLayers; l++) {
    const inp = w.conv(h, `${name}.enc.in_layers.${l}`, hidden, 2 * hidden, 5);
    const a = g.op('Slice', [inp, g.int64s(`${name}.l${l}.a.start`, [1], [0]), g.int64s(`${name}.l${l}.a.end`, [1], [hidden]), axis1]);
    const b = g.op('Slice', [inp, g.int64s(`${name}.l${l}.b.start`, [1], [hidden]), g.int64s(`${name}.l${l}.b.end`, [1], [2 * hidden]), axis1]);
    const acts = g.op('Mul', [g.op('Tanh', [a]), g.op('Sigmoid', [b])]);
    const last = l === wnLayers - 1;
    const rs = w.conv(acts, `${name}.enc.res_skip_layers.${l}`, hidden, last ? hidden : 2 * hidden, 1, 1, 0.5);
    if (last) skip = skip === undefined ? rs : g.op('Add', [skip, rs]);
    else {
      h = g.op('Add', [h, g.op('Slice', [rs, g.int64s(`${name}.l${l}.r.start`, [1], [0]), g.int64s(`${name}.l${l}.r.end`, [1], [hidden]), axis1])]);
      const sk = g.op('Slice', [rs, g.int64s(`${name}.l${l}.s.start`, [1], [hidden]), g.int64s(`${name}.l${l}.s.end`, [1], [2 * hidden]), axis1]);
      skip = skip === undefined ? sk : g.op('Add', [skip, sk]);
    }
  }
  const m = w.conv(skip!, `${name}.post`, hidden, half, 1, 1, 0.1);
  const shifted = g.op('Concat', [x0, g.op('Sub', [x1, m])], { axis: { int: 1 } });
  const reversed = g.int64s(`${name}.flip`, [channels], Array.from({ length: channels }, (_, i) => channels - 1 - i));
  return g.op('Gather', [shifted, reversed], { axis: { int: 1 } });
}

export function generateVitsModel(options: GenerateVitsModelOptions): GeneratedVitsModel {
  const shapeName = options.shape ?? 'tiny';
  const shape = VITS_SHAPES[shapeName];
  const seed = options.seed ?? 1;
  const speakers = options.speakers ?? (shapeName === 'tiny' ? 2 : 1);
  if (!Number.isInteger(speakers) || speakers < 1) throw new Error(`speakers must be a positive integer (got ${speakers})`);
  const g = new OnnxGraph('vits');
  const w = new Weights(g, seed);
  const H = shape.hidden;

  // Piper's and Coqui's export layout, which sherpa feeds by position: token ids, their count,
  // `scales` = [noise_scale, length_scale, noise_scale_w], and `sid` on a multi-speaker voice. The
  // noise scales go unused: this voice's durations and decoder are deterministic.
  const x = g.input('input', OnnxType.INT64, [1, 'tokens']);
  g.input('input_lengths', OnnxType.INT64, [1]);
  const scales = g.input('scales', OnnxType.FLOAT, [3]);
  const sid = speakers > 1 ? g.input('sid', OnnxType.INT64, [1]) : undefined;
  const lengthScale = g.op('Gather', [scales, g.int64s('length_scale_index', [1], [1])]);

  const axis0 = g.int64s('axis0', [1], [0]);
  const axis1 = g.int64s('axis1', [1], [1]);
  const axis2 = g.int64s('axis2', [1], [2]);
  const flat = g.int64s('flat_shape', [1], [-1]);

  // Text encoder on [1, H, N]: embedding, then residual convolution blocks.
  const embedded = g.op('Gather', [w.random('enc_p.emb.weight', [SYMBOLS.length, H], 1), x]); // [1, N, H]
  let h = g.op('Transpose', [embedded], { perm: [0, 2, 1] });
  for (let l = 0; l < shape.encoderLayers; l++) {
    const inner = g.op('Relu', [w.conv(h, `enc_p.encoder.ffn_layers.${l}.conv_1`, H, shape.filter, 3)]);
    h = g.op('Add', [h, w.conv(inner, `enc_p.encoder.ffn_layers.${l}.conv_2`, shape.filter, H, 3, 1, 0.5)]);
  }

  // Durations: e^(bias + a small learned part) frames per token, times length_scale, rounded up.
  const logw = g.op('Add', [w.conv(h, 'dp.proj', H, 1, 1, 1, 0.3), g.scalar(DURATION_BIAS)]);
  const durations = g.op('Reshape', [g.op('Ceil', [g.op('Mul', [g.op('Exp', [logw]), lengthScale])]), flat]); // [N]
  const ends = g.op('CumSum', [durations, g.int64s('cumsum_axis', [], [0])]);
  const totalFrames = g.op('Cast', [g.op('ReduceSum', [durations], { keepdims: { int: 0 } })], { to: { int: OnnxType.INT64 } });
  const frames = g.op('Cast', [g.op('Range', [g.int64s('range_start', [], [0]), totalFrames, g.int64s('range_delta', [], [1])])], { to: { int: OnnxType.FLOAT } });
  // Frame t belongs to the token whose span holds it: the count of spans ending at or before t.
  const past = g.op('LessOrEqual', [g.op('Unsqueeze', [ends, axis0]), g.op('Unsqueeze', [frames, axis1])]); // [T, N]
  const tokenOfFrame = g.op('ReduceSum', [g.op('Cast', [past], { to: { int: OnnxType.INT64 } }), axis1], { keepdims: { int: 0 } });
  let z = g.op('Gather', [h, tokenOfFrame], { axis: { int: 2 } }); // [1, H, T]
  if (sid) {
    const speaker = g.op('Unsqueeze', [g.op('Gather', [w.random('emb_g.weight', [speakers, H], 1), sid]), axis2]); // [1, H, 1]
    z = g.op('Add', [z, speaker]);
  }

  // The flow, run in reverse as at inference: residual coupling layers (WaveNet-style gated
  // convolutions on one half of the channels shift the other half), each followed by a flip.
  for (let f = 0; f < shape.flowLayers; f++) z = coupling(w, z, `flow.flows.${f * 2}`, H, shape.flowWnLayers);

  // HiFi-GAN decoder.
  let c = shape.upsampleInitialChannel;
  let y = w.conv(z, 'dec.conv_pre', H, c, 7);
  shape.upsampleRates.forEach((rate, i) => {
    y = w.upsample(g.op('LeakyRelu', [y], { alpha: 0.1 }), `dec.ups.${i}`, c, c / 2, rate);
    c /= 2;
    let sum: string | undefined;
    shape.resblockKernels.forEach((k, j) => {
      let r = y;
      const name = `dec.resblocks.${i * shape.resblockKernels.length + j}`;
      shape.resblockDilations[j]!.forEach((d, n) => {
        const t = w.conv(g.op('LeakyRelu', [r], { alpha: 0.1 }), `${name}.convs1.${n}`, c, c, k, d, shape.resblock === '1' ? 1 : 0.5);
        r = g.op('Add', [r, shape.resblock === '1' ? w.conv(g.op('LeakyRelu', [t], { alpha: 0.1 }), `${name}.convs2.${n}`, c, c, k, 1, 0.5) : t]);
      });
      sum = sum === undefined ? r : g.op('Add', [sum, r]);
    });
    y = g.op('Mul', [sum!, g.scalar(1 / shape.resblockKernels.length)]);
  });
  const post = w.conv(g.op('LeakyRelu', [y], { alpha: 0.01 }), 'dec.conv_post', c, 1, 7);
  g.op('Tanh', [post], {}, 'y');
  g.output('y', OnnxType.FLOAT, [1, 1, 'samples']);

  // sherpa-onnx reads the voice's settings from the model's metadata (a Coqui-style character model).
  const metadata: Record<string, string> = {
    model_type: 'vits',
    comment: 'coqui',
    language: 'English',
    frontend: 'characters',
    sample_rate: String(shape.sampleRate),
    n_speakers: String(speakers),
    add_blank: '0',
    blank_id: '0',
    bos_id: '0',
    eos_id: '0',
    pad_id: '0',
    use_eos_bos: '0',
    punctuation: ". , ! ? ; : ' \"",
  };
  mkdirSync(options.dir, { recursive: true });
  const modelPath = join(options.dir, 'model.onnx');
  const tokensPath = join(options.dir, 'tokens.txt');
  const bytes = g.encode('switchyard-model-gen', metadata);
  writeFileSync(modelPath, bytes);
  writeFileSync(tokensPath, SYMBOLS.map((s, i) => `${s} ${i}`).join('\n') + '\n');
  return { dir: options.dir, modelPath, tokensPath, sampleRate: shape.sampleRate, speakers, bytes: bytes.length, params: w.params };
}
