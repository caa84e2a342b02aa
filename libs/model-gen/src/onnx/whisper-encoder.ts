/**
 * The Whisper encoder graph (onnx/encoder_model.onnx): input_features [batch, mel_bins, 3000] ->
 * last_hidden_state [batch, 1500, d_model], built as Hugging Face's WhisperEncoder is (two
 * convolutions with GELU, sinusoidal positions, pre-LayerNorm transformer blocks, a final LayerNorm)
 * with random weights.
 *
 * One thing a trained encoder does implicitly is made explicit here: channel 0 of the output is 1
 * where the 20 ms frame holds sound and 0 where it is silence, so that the generated decoder can put
 * its segment timestamps where the audio has sound (see whisper-timing.ts).
 */
import { OnnxGraph, OnnxType } from './onnx-graph';
import { ENCODER_FRAMES, sinusoids, WhisperLayers, type WhisperShape } from './whisper-layers';

/** Mel frames per 30 s window. */
export const MEL_FRAMES = ENCODER_FRAMES * 2;

/**
 * A frame counts as sound when its loudest mel bin is this far above the quietest value of the whole
 * window, in the feature extractor's units (log10 power / 4): 0.5 is 20 dB. Silence, zero padding
 * included, sits at the extractor's floor (80 dB below the loudest bin).
 */
const SOUND_THRESHOLD = 0.5;

export function buildWhisperEncoder(shape: WhisperShape, seed: number): { graph: OnnxGraph; params: number } {
  const g = new OnnxGraph('whisper_encoder');
  const L = new WhisperLayers(g, shape, seed);
  const d = shape.dModel;
  const features = g.input('input_features', OnnxType.FLOAT, ['batch_size', shape.melBins, MEL_FRAMES]);

  const conv = (x: string, name: string, inCh: number, stride: number): string =>
    L.gelu(
      g.op('Conv', [x, L.weight(`${name}.weight`, [d, inCh, 3], 1 / Math.sqrt(inCh * 3)), L.constant(`${name}.bias`, [d], 0)], {
        kernel_shape: [3],
        pads: [1, 1],
        strides: [stride],
      }),
    );
  const conv2 = conv(conv(features, 'encoder.conv1', shape.melBins, 1), 'encoder.conv2', d, 2);
  const positions = g.floats('encoder.embed_positions.weight', [ENCODER_FRAMES, d], sinusoids(ENCODER_FRAMES, d));
  L.params += ENCODER_FRAMES * d;
  let x = g.op('Add', [g.op('Transpose', [conv2], { perm: [0, 2, 1] }), positions]);

  const scale = g.scalar(L.attentionScale, 'attention_scale');
  for (let l = 0; l < shape.encoderLayers; l++) {
    const p = `encoder.layers.${l}`;
    const h = L.layerNorm(x, `${p}.self_attn_layer_norm`);
    const q = L.splitHeads(g.op('Mul', [L.linear(h, `${p}.self_attn.q_proj`, d, d), scale]));
    const k = L.splitHeads(L.linear(h, `${p}.self_attn.k_proj`, d, d, false));
    const v = L.splitHeads(L.linear(h, `${p}.self_attn.v_proj`, d, d));
    const { context } = L.attend(q, k, v);
    x = g.op('Add', [x, L.linear(L.mergeHeads(context), `${p}.self_attn.out_proj`, d, d)]);
    x = g.op('Add', [x, L.feedForward(L.layerNorm(x, `${p}.final_layer_norm`), p)]);
  }
  const hidden = L.layerNorm(x, 'encoder.layer_norm');

  // Sound flags: [batch, mel, 3000] -> loudest bin per pair of mel frames [batch, 1500], against the
  // window's quietest value.
  const pairs = g.op('Reshape', [features, g.int64s('mel_pairs_shape', [4], [0, shape.melBins, ENCODER_FRAMES, 2])]);
  const loudest = g.op('ReduceMax', [pairs], { axes: [1, 3], keepdims: { int: 0 } });
  const floor = g.op('ReduceMin', [features], { axes: [1, 2], keepdims: { int: 1 } });
  const floor2 = g.op('Squeeze', [floor, g.int64s('floor_axes', [1], [2])]);
  const sound = g.op('Cast', [g.op('Greater', [g.op('Sub', [loudest, floor2]), g.scalar(SOUND_THRESHOLD)])], { to: { int: OnnxType.FLOAT } });
  const keep = new Float32Array(d).fill(1);
  keep[0] = 0;
  const first = new Float32Array(d);
  first[0] = 1;
  const flagged = g.op('Add', [
    g.op('Mul', [hidden, g.floats('keep_channels', [d], keep)]),
    g.op('Mul', [g.op('Unsqueeze', [sound, g.int64s('sound_axes', [1], [2])]), g.floats('sound_channel', [d], first)]),
  ]);
  g.op('Identity', [flagged], {}, 'last_hidden_state');
  g.output('last_hidden_state', OnnxType.FLOAT, ['batch_size', ENCODER_FRAMES, d]);
  return { graph: g, params: L.params };
}
