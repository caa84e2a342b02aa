/**
 * The Whisper decoder graph (onnx/decoder_model_merged.onnx) as Optimum exports it "merged": one
 * graph for the first step and the cached steps.
 *
 * Inputs: input_ids int64 [batch, seq], encoder_hidden_states [batch, 1500, d_model],
 * past_key_values.N.{decoder,encoder}.{key,value} [batch, heads, past, head_dim] and use_cache_branch
 * bool [1]. Outputs: logits [batch, seq, vocab], present.N.{decoder,encoder}.{key,value} and, for
 * word-level timestamps, cross_attentions.N [batch, heads, seq, 1500]. transformers.js feeds empty
 * past tensors and use_cache_branch = false on the first step; then the new tokens only. The
 * cross-attention keys and values are computed from encoder_hidden_states on the first step and read
 * from the cache after it (an If node, as in Optimum's export).
 *
 * Random weights, pre-LayerNorm blocks (self-attention, cross-attention, feed-forward) as Hugging
 * Face's WhisperDecoder; the output projection is the token embedding (tied, as in Whisper), its
 * logits scaled to unit size on word tokens only, plus words chosen by the sound of the current
 * segment, plus the bias of whisper-timing.ts.
 */
import { OnnxGraph, OnnxType } from './onnx-graph';
import { buildTiming, buildTimingTables } from './whisper-timing';
import { ENCODER_FRAMES, MAX_TARGET_POSITIONS, WhisperLayers, type WhisperShape } from './whisper-layers';
import type { WhisperVocab } from './whisper-tokenizer';

export interface WhisperDecoderOptions {
  shape: WhisperShape;
  vocab: WhisperVocab;
  seed: number;
  /** [layer, head] pairs whose cross-attention word-level timestamps use. */
  alignmentHeads: ReadonlyArray<readonly [number, number]>;
  /** Output cross_attentions.N (needed for return_timestamps: 'word'). */
  crossAttentions: boolean;
}

const past = (l: number, part: 'decoder' | 'encoder', kv: 'key' | 'value'): string => `past_key_values.${l}.${part}.${kv}`;
const present = (l: number, part: 'decoder' | 'encoder', kv: 'key' | 'value'): string => `present.${l}.${part}.${kv}`;

export function buildWhisperDecoder(o: WhisperDecoderOptions): { graph: OnnxGraph; params: number } {
  const { shape, vocab: v } = o;
  const g = new OnnxGraph('whisper_decoder');
  const L = new WhisperLayers(g, shape, o.seed);
  const d = shape.dModel;
  const h = shape.heads;
  const hd = L.headDim;
  if (hd < 2) throw new Error('head_dim must be at least 2');
  const vocabSize = v.tokens.length;

  const inputIds = g.input('input_ids', OnnxType.INT64, ['batch_size', 'decoder_sequence_length']);
  const encoder = g.input('encoder_hidden_states', OnnxType.FLOAT, ['batch_size', 'encoder_sequence_length', d]);
  for (let l = 0; l < shape.decoderLayers; l++) {
    for (const kv of ['key', 'value'] as const) g.input(past(l, 'decoder', kv), OnnxType.FLOAT, ['batch_size', h, 'past_decoder_sequence_length', hd]);
    for (const kv of ['key', 'value'] as const) g.input(past(l, 'encoder', kv), OnnxType.FLOAT, ['batch_size', h, 'encoder_sequence_length_out', hd]);
  }
  const useCache = g.input('use_cache_branch', OnnxType.BOOL, [1]);

  // Positions: past length .. past length + seq.
  const scalarIndex = (name: string, i: number): string => g.int64s(name, [], [i]);
  const pastLen = g.op('Gather', [g.op('Shape', [past(0, 'decoder', 'key')]), scalarIndex('axis_2', 2)], { axis: { int: 0 } });
  const seqLen = g.op('Gather', [g.op('Shape', [inputIds]), scalarIndex('axis_1', 1)], { axis: { int: 0 } });
  const total = g.op('Add', [pastLen, seqLen]);
  const one = scalarIndex('one', 1);
  const positionIds = g.op('Range', [pastLen, total, one]);
  const tokens = L.weight('model.decoder.embed_tokens.weight', [vocabSize, d], 1);
  const positionTable = L.weight('model.decoder.embed_positions.weight', [MAX_TARGET_POSITIONS, d], 0.5);
  let x = g.op('Add', [g.op('Gather', [tokens, inputIds]), g.op('Gather', [positionTable, positionIds])]);

  // Causal mask [seq, total]: a query at position p sees keys 0..p.
  const keyPositions = g.op('Unsqueeze', [g.op('Range', [scalarIndex('zero', 0), total, one]), g.int64s('axes_0', [1], [0])]);
  const queryPositions = g.op('Unsqueeze', [positionIds, g.int64s('axes_1', [1], [1])]);
  const causal = g.op('Where', [g.op('Greater', [keyPositions, queryPositions]), g.scalar(-1e9, 'masked'), g.scalar(0, 'unmasked')]);

  // Timing state carried in two channels of layer 0's keys (head 0, the last two channels).
  const firstHead = g.op('Gather', [past(0, 'decoder', 'key'), scalarIndex('head_0', 0)], { axis: { int: 1 } });
  const cacheChannel = (c: number): string => g.op('Gather', [firstHead, scalarIndex(`channel_${c}`, c)], { axis: { int: 2 } });
  const tables = buildTimingTables(v);
  const timing = buildTiming(g, v, tables, {
    inputIds,
    positions: g.op('Cast', [positionIds], { to: { int: OnnxType.FLOAT } }),
    encoderHidden: encoder,
    pastMarkers: cacheChannel(hd - 1),
    pastNoTimestamps: cacheChannel(hd - 2),
  });
  const keep = new Float32Array(h * hd).fill(1);
  const markerSlot = new Float32Array(h * hd);
  const flagSlot = new Float32Array(h * hd);
  keep[hd - 1] = keep[hd - 2] = 0;
  markerSlot[hd - 1] = 1;
  flagSlot[hd - 2] = 1;
  const keepChannels = g.floats('timing_keep_channels', [h, 1, hd], keep);
  const slot = (t: string, name: string, data: Float32Array): string =>
    g.op('Mul', [g.op('Unsqueeze', [t, g.int64s(`${name}_axes`, [2], [1, 3])]), g.floats(name, [h, 1, hd], data)]);

  // Cross-attention keys and values: computed on the first step, from the cache afterwards.
  const cached = g.subgraph('use_cache');
  const otherwise = g.subgraph('compute_cross_kv');
  const crossOutputs: string[] = [];
  for (let l = 0; l < shape.decoderLayers; l++) {
    for (const kv of ['key', 'value'] as const) {
      const fromCache = cached.op('Identity', [past(l, 'encoder', kv)], {}, `${present(l, 'encoder', kv)}_cached`);
      cached.output(fromCache, OnnxType.FLOAT);
      const proj = `model.decoder.layers.${l}.encoder_attn.${kv === 'key' ? 'k' : 'v'}_proj`;
      const computed = otherwise.op('Identity', [L.splitHeads(L.linear(encoder, proj, d, d, kv === 'value', otherwise), otherwise)], {}, `${present(l, 'encoder', kv)}_computed`);
      otherwise.output(computed, OnnxType.FLOAT);
      crossOutputs.push(present(l, 'encoder', kv));
    }
  }
  g.multi('If', [useCache], crossOutputs, { then_branch: cached, else_branch: otherwise });

  const scale = g.scalar(L.attentionScale, 'attention_scale');
  const alignment = g.op('Unsqueeze', [timing.alignment, g.int64s('alignment_axes', [1], [1])]);
  const crossAttentions: string[] = [];
  for (let l = 0; l < shape.decoderLayers; l++) {
    const p = `model.decoder.layers.${l}`;
    let hidden = L.layerNorm(x, `${p}.self_attn_layer_norm`);
    let q = L.splitHeads(g.op('Mul', [L.linear(hidden, `${p}.self_attn.q_proj`, d, d), scale]));
    let k = L.splitHeads(L.linear(hidden, `${p}.self_attn.k_proj`, d, d, false));
    if (l === 0) {
      q = g.op('Mul', [q, keepChannels]);
      k = g.op('Add', [
        g.op('Add', [g.op('Mul', [k, keepChannels]), slot(timing.markers, 'timing_marker_slot', markerSlot)]),
        slot(timing.noTimestamps, 'timing_flag_slot', flagSlot),
      ]);
    }
    const vNew = L.splitHeads(L.linear(hidden, `${p}.self_attn.v_proj`, d, d));
    const keys = g.op('Concat', [past(l, 'decoder', 'key'), k], { axis: { int: 2 } }, present(l, 'decoder', 'key'));
    const values = g.op('Concat', [past(l, 'decoder', 'value'), vNew], { axis: { int: 2 } }, present(l, 'decoder', 'value'));
    const selfAttn = L.attend(q, keys, values, causal);
    x = g.op('Add', [x, L.linear(L.mergeHeads(selfAttn.context), `${p}.self_attn.out_proj`, d, d)]);

    hidden = L.layerNorm(x, `${p}.encoder_attn_layer_norm`);
    q = L.splitHeads(g.op('Mul', [L.linear(hidden, `${p}.encoder_attn.q_proj`, d, d), scale]));
    const cross = L.attend(q, present(l, 'encoder', 'key'), present(l, 'encoder', 'value'));
    x = g.op('Add', [x, L.linear(L.mergeHeads(cross.context), `${p}.encoder_attn.out_proj`, d, d)]);
    x = g.op('Add', [x, L.feedForward(L.layerNorm(x, `${p}.final_layer_norm`), p)]);

    if (o.crossAttentions) {
      const heads = new Float32Array(h);
      for (const [layer, head] of o.alignmentHeads) if (layer === l) heads[head] = 1;
      const mask = g.floats(`alignment_heads_${l}`, [h, 1, 1], heads);
      const designed = g.op('Add', [g.op('Mul', [cross.probs, g.op('Sub', [g.scalar(1), mask])]), g.op('Mul', [alignment, mask])]);
      crossAttentions.push(g.op('Identity', [designed], {}, `cross_attentions.${l}`));
    }
  }

  // Tied output projection, then the bias.
  const final = L.layerNorm(x, 'model.decoder.layer_norm');
  const flat = g.op('Reshape', [final, g.int64s('flatten_shape', [2], [-1, d])]);
  const projected = g.op('Gemm', [flat, tokens], { transB: { int: 1 }, alpha: 1 / Math.sqrt(d) });
  const logitsShape = g.op('Concat', [g.op('Shape', [inputIds]), g.int64s('vocab_dim', [1], [vocabSize])], { axis: { int: 0 } });
  const noise = g.op('Mul', [g.op('Reshape', [projected, logitsShape]), g.floats('timing_word_mask', [vocabSize], tables.wordMask)]);
  g.op('Add', [g.op('Add', [noise, segmentWords(L, timing.segmentSound, encoder, tables.wordMask)]), timing.bias], {}, 'logits');

  g.output('logits', OnnxType.FLOAT, ['batch_size', 'decoder_sequence_length', vocabSize]);
  for (let l = 0; l < shape.decoderLayers; l++) {
    for (const kv of ['key', 'value'] as const) {
      g.output(present(l, 'decoder', kv), OnnxType.FLOAT, ['batch_size', h, 'present_decoder_sequence_length', hd]);
    }
    for (const kv of ['key', 'value'] as const) {
      g.output(present(l, 'encoder', kv), OnnxType.FLOAT, ['batch_size', h, 'encoder_sequence_length_out', hd]);
    }
  }
  crossAttentions.forEach((name) => g.output(name, OnnxType.FLOAT, ['batch_size', h, 'decoder_sequence_length', ENCODER_FRAMES]));
  return { graph: g, params: L.params };
}

/**
 * Word logits from the sound of the current segment (its average encoder state, normalised, through
 * a random projection onto the word tokens): [batch, 1, vocab]. The random decoder alone hardly
 * depends on the audio (its cross-attention averages 1500 frames); with this, different sounds give
 * different words, and the same sound the same words wherever it is.
 */
function segmentWords(L: WhisperLayers, weights: string, encoder: string, wordMask: Float32Array): string {
  const g = L.g;
  const d = L.shape.dModel;
  const words: number[] = [];
  wordMask.forEach((m, id) => m > 0 && words.push(id));
  const scatter = new Float32Array(words.length * wordMask.length);
  words.forEach((id, i) => (scatter[i * wordMask.length + id] = 1));
  const mean = L.layerNorm(g.op('MatMul', [weights, encoder]), 'timing.segment_norm');
  const perWord = g.op('MatMul', [mean, L.weight('timing.segment_words.weight', [d, words.length], 2 / Math.sqrt(d))]);
  return g.op('MatMul', [perWord, g.floats('timing_word_scatter', [words.length, wordMask.length], scatter)]);
}
