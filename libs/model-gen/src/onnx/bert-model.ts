/**
 * Random-weight BERT-style encoders as ONNX models in Hugging Face's folder layout (config.json,
 * tokenizer files, onnx/model.onnx), which transformers.js loads offline:
 *
 * - `embeddings`: inputs input_ids, attention_mask, token_type_ids; output last_hidden_state.
 * - `classifier`: the same encoder with BERT's pooler and a classification head; output logits
 *   (one per label; multi-label by default, as moderation models are).
 * - `reranker`: a cross-encoder, a classifier with a single logit scoring a (query, document) pair.
 *
 * Only standard opset-17 operators. The numbers are meaningless but deterministic per seed, and the
 * shapes (and so the speed) can match real models such as all-MiniLM-L6-v2.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashSeed, randomFill } from '../llama-model';
import { OnnxGraph, OnnxType } from './onnx-graph';
import { generateWordPieceVocab, wordPieceSpecialTokensMap, wordPieceTokenizerConfig, wordPieceTokenizerJson } from './wordpiece';

export type BertTask = 'embeddings' | 'classifier' | 'reranker';

export interface BertShape {
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  maxPositions: number;
}

export type BertShapeName = 'tiny' | 'minilm-l6';

export const BERT_SHAPES: Readonly<Record<BertShapeName, Readonly<BertShape>>> = {
  tiny: { hiddenSize: 32, layers: 2, heads: 2, intermediateSize: 64, maxPositions: 128 },
  // sentence-transformers/all-MiniLM-L6-v2's dimensions.
  'minilm-l6': { hiddenSize: 384, layers: 6, heads: 12, intermediateSize: 1536, maxPositions: 512 },
};

/** Labels of the default classifier: those of common toxicity models (e.g. unitary/toxic-bert). */
export const DEFAULT_CLASSIFIER_LABELS: readonly string[] = ['toxic', 'severe_toxic', 'obscene', 'threat', 'insult', 'identity_hate'];

export interface GenerateBertModelOptions {
  /** Output folder (created; replaced when it exists). */
  dir: string;
  task: BertTask;
  shape?: BertShapeName | BertShape;
  seed?: number;
  /** Classifier labels (default DEFAULT_CLASSIFIER_LABELS). */
  labels?: readonly string[];
  /** Softmax over labels instead of independent sigmoids (classifier only). */
  singleLabel?: boolean;
  /** Use the Hugging Face tokenizer in this folder (tokenizer.json ...) instead of the generated one. */
  tokenizerDir?: string;
}

export interface GeneratedBertModel {
  dir: string;
  task: BertTask;
  shape: BertShape;
  vocabSize: number;
  labels: string[];
  params: number;
  /** Size of onnx/model.onnx. */
  bytes: number;
}

/** Writes the model folder; returns what it wrote. Takes about a second for MiniLM's shape. */
export function generateBertModel(options: GenerateBertModelOptions): GeneratedBertModel {
  const shape = typeof options.shape === 'object' ? options.shape : BERT_SHAPES[options.shape ?? 'tiny'];
  if (shape.hiddenSize % shape.heads !== 0) throw new Error('hiddenSize must be a multiple of heads');
  const seed = options.seed ?? 1;
  const labels =
    options.task === 'reranker' ? ['LABEL_0'] : options.task === 'classifier' ? [...(options.labels ?? DEFAULT_CLASSIFIER_LABELS)] : [];
  if (options.task === 'classifier' && labels.length === 0) throw new Error('a classifier needs at least one label');

  const tmp = `${options.dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'onnx'), { recursive: true });
  const vocabSize = options.tokenizerDir ? copyTokenizer(options.tokenizerDir, tmp, shape.maxPositions) : writeTokenizer(tmp, shape.maxPositions);

  const { graph, params } = buildBertGraph(shape, vocabSize, labels.length, seed);
  const bytes = graph.encode();
  writeFileSync(join(tmp, 'onnx', 'model.onnx'), bytes);
  writeFileSync(join(tmp, 'config.json'), JSON.stringify(bertConfig(options.task, shape, vocabSize, labels, options.singleLabel === true), null, 2));
  rmSync(options.dir, { recursive: true, force: true });
  renameSync(tmp, options.dir);
  return { dir: options.dir, task: options.task, shape, vocabSize, labels, params, bytes: statSync(join(options.dir, 'onnx', 'model.onnx')).size };
}

function writeTokenizer(dir: string, maxPositions: number): number {
  const vocab = generateWordPieceVocab();
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceTokenizerJson(vocab)));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(wordPieceTokenizerConfig(maxPositions), null, 2));
  writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify(wordPieceSpecialTokensMap(), null, 2));
  return vocab.tokens.length;
}

/**
 * Copies a real tokenizer. Its fixed padding and truncation (sentence-transformers exports often pin
 * 128) are dropped: the serving code pads per batch and enforces the token limit itself.
 */
function copyTokenizer(from: string, dir: string, maxPositions: number): number {
  const tokenizer = JSON.parse(readFileSync(join(from, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> };
    added_tokens?: Array<{ id: number }>;
    padding?: unknown;
    truncation?: unknown;
  };
  tokenizer.padding = null;
  tokenizer.truncation = null;
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  const config = existsSync(join(from, 'tokenizer_config.json'))
    ? (JSON.parse(readFileSync(join(from, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>)
    : {};
  const limit = typeof config.model_max_length === 'number' ? Math.min(config.model_max_length, maxPositions) : maxPositions;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, model_max_length: limit }, null, 2));
  if (existsSync(join(from, 'special_tokens_map.json'))) copyFileSync(join(from, 'special_tokens_map.json'), join(dir, 'special_tokens_map.json'));
  const ids = [...Object.values(tokenizer.model.vocab), ...(tokenizer.added_tokens ?? []).map((t) => t.id)];
  return Math.max(...ids) + 1;
}

function bertConfig(task: BertTask, shape: BertShape, vocabSize: number, labels: string[], singleLabel: boolean): object {
  const base = {
    model_type: 'bert',
    architectures: [task === 'embeddings' ? 'BertModel' : 'BertForSequenceClassification'],
    hidden_size: shape.hiddenSize,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    intermediate_size: shape.intermediateSize,
    max_position_embeddings: shape.maxPositions,
    vocab_size: vocabSize,
    type_vocab_size: 2,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    _generated_by: 'switchyard model-gen (random weights)',
  };
  if (task === 'embeddings') return base;
  return {
    ...base,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    ...(task === 'classifier' && !singleLabel ? { problem_type: 'multi_label_classification' } : {}),
  };
}

/** The encoder graph (plus pooler and head when `numLabels` > 0); returns it and its parameter count. */
export function buildBertGraph(shape: BertShape, vocabSize: number, numLabels: number, seed: number): { graph: OnnxGraph; params: number } {
  const H = shape.hiddenSize;
  const heads = shape.heads;
  const headDim = H / heads;
  const g = new OnnxGraph('bert');
  let params = 0;
  const weight = (name: string, dims: number[], std: number): string => {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    randomFill(hashSeed(seed, name), std)(0, data);
    params += n;
    return g.floats(name, dims, data);
  };
  const constant = (name: string, dims: number[], value: number): string => {
    const n = dims.reduce((a, b) => a * b, 1);
    params += n;
    return g.floats(name, dims, new Float32Array(n).fill(value));
  };
  const linear = (x: string, name: string, inDim: number, outDim: number): string =>
    g.op('Add', [g.op('MatMul', [x, weight(`${name}.weight`, [inDim, outDim], 1 / Math.sqrt(inDim))]), constant(`${name}.bias`, [outDim], 0)]);
  const layerNorm = (x: string, name: string): string =>
    g.op('LayerNormalization', [x, constant(`${name}.weight`, [H], 1), constant(`${name}.bias`, [H], 0)], { axis: { int: -1 }, epsilon: 1e-12 });

  const inputIds = g.input('input_ids', OnnxType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', OnnxType.INT64, ['batch_size', 'sequence_length']);
  const tokenTypeIds = g.input('token_type_ids', OnnxType.INT64, ['batch_size', 'sequence_length']);

  // Embeddings: word + position + token type, then LayerNorm.
  const words = g.op('Gather', [weight('embeddings.word_embeddings.weight', [vocabSize, H], 1), inputIds]);
  const seqLen = g.op('Gather', [g.op('Shape', [inputIds]), g.int64s('one_index', [], [1])], { axis: { int: 0 } });
  const positionIds = g.op('Range', [g.int64s('zero', [], [0]), seqLen, g.int64s('step', [], [1])]);
  const positions = g.op('Gather', [weight('embeddings.position_embeddings.weight', [shape.maxPositions, H], 1), positionIds]);
  const types = g.op('Gather', [weight('embeddings.token_type_embeddings.weight', [2, H], 1), tokenTypeIds]);
  let x = layerNorm(g.op('Add', [g.op('Add', [words, positions]), types]), 'embeddings.LayerNorm');

  // Padding positions get -10000 added to their attention scores: [batch, 1, 1, seq].
  const maskFloat = g.op('Cast', [attentionMask], { to: { int: OnnxType.FLOAT } });
  const maskAdd = g.op('Mul', [g.op('Sub', [g.scalar(1, 'one_f'), maskFloat]), g.scalar(-10000, 'mask_value')]);
  const maskBias = g.op('Unsqueeze', [maskAdd, g.int64s('mask_axes', [2], [1, 2])]);
  const splitHeads = g.int64s('split_heads_shape', [4], [0, 0, heads, headDim]);
  const mergeHeads = g.int64s('merge_heads_shape', [3], [0, 0, H]);
  const scale = g.scalar(1 / Math.sqrt(headDim), 'attention_scale');

  for (let l = 0; l < shape.layers; l++) {
    const p = `encoder.layer.${l}`;
    const proj = (name: string, perm: number[]): string =>
      g.op('Transpose', [g.op('Reshape', [linear(x, `${p}.attention.self.${name}`, H, H), splitHeads])], { perm });
    const q = proj('query', [0, 2, 1, 3]);
    const kT = proj('key', [0, 2, 3, 1]);
    const v = proj('value', [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT]), scale]), maskBias]);
    const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
    const context = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), mergeHeads]);
    const attended = linear(context, `${p}.attention.output.dense`, H, H);
    x = layerNorm(g.op('Add', [attended, x]), `${p}.attention.output.LayerNorm`);
    // GELU (erf form; Gelu itself is opset 20).
    const inner = linear(x, `${p}.intermediate.dense`, H, shape.intermediateSize);
    const gelu = g.op('Mul', [
      g.op('Mul', [inner, g.scalar(0.5)]),
      g.op('Add', [g.op('Erf', [g.op('Div', [inner, g.scalar(Math.SQRT2)])]), g.scalar(1)]),
    ]);
    const out = linear(gelu, `${p}.output.dense`, shape.intermediateSize, H);
    x = layerNorm(g.op('Add', [out, x]), `${p}.output.LayerNorm`);
  }

  if (numLabels === 0) {
    g.op('Identity', [x], {}, 'last_hidden_state');
    g.output('last_hidden_state', OnnxType.FLOAT, ['batch_size', 'sequence_length', H]);
  } else {
    // BERT's pooler: the [CLS] position through a dense layer and tanh, then the head.
    const cls = g.op('Gather', [x, g.int64s('cls_index', [], [0])], { axis: { int: 1 } });
    const pooled = g.op('Tanh', [linear(cls, 'pooler.dense', H, H)]);
    g.op('Add', [g.op('MatMul', [pooled, weight('classifier.weight', [H, numLabels], 2 / Math.sqrt(H))]), constant('classifier.bias', [numLabels], 0)], {}, 'logits');
    g.output('logits', OnnxType.FLOAT, ['batch_size', numLabels]);
  }
  return { graph: g, params };
}
