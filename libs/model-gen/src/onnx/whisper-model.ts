/**
 * Random-weight Whisper speech-to-text models in the Hugging Face ONNX layout that onnx-community's
 * exports use and transformers.js's automatic-speech-recognition pipeline loads offline:
 *
 *   config.json, generation_config.json, preprocessor_config.json, tokenizer.json,
 *   tokenizer_config.json, special_tokens_map.json, onnx/encoder_model.onnx,
 *   onnx/decoder_model_merged.onnx (with a key/value cache and cross_attentions.N outputs).
 *
 * The text is made up ("The quick fox runs today.") but Whisper-shaped: languages, translate,
 * timestamps, segments that follow where the audio has sound, word-level timestamps, and it always
 * ends (see whisper-timing.ts). `tiny` is for tests (a folder in well under a second, a pipeline
 * call in tens of milliseconds); `whisper-tiny` and `whisper-base` have the real models' dimensions
 * and 51,865-token vocabulary, for benchmarks.
 */
import { copyFileSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildWhisperDecoder } from './whisper-decoder';
import { buildWhisperEncoder } from './whisper-encoder';
import { ENCODER_FRAMES, MAX_TARGET_POSITIONS, type WhisperShape } from './whisper-layers';
import { SENTENCE_WORDS } from './whisper-timing';
import { generateWhisperVocab, WHISPER_BASE_VOCAB, whisperSpecialTokensMap, whisperTokenizerConfig, whisperTokenizerJson, type WhisperVocab } from './whisper-tokenizer';

export interface WhisperModelShape extends WhisperShape {
  /** Size of the BPE part of the vocabulary (the specials follow); omitted: just what the words need. */
  baseVocab?: number;
  /** [layer, head] pairs for word-level timestamps. */
  alignmentHeads: ReadonlyArray<readonly [number, number]>;
}

export type WhisperShapeName = 'tiny' | 'whisper-tiny' | 'whisper-base';

export const WHISPER_SHAPES: Readonly<Record<WhisperShapeName, Readonly<WhisperModelShape>>> = {
  tiny: { dModel: 64, encoderLayers: 2, decoderLayers: 2, heads: 2, ffnDim: 256, melBins: 80, alignmentHeads: [[1, 0]] },
  // openai/whisper-tiny's dimensions and alignment heads.
  'whisper-tiny': {
    dModel: 384,
    encoderLayers: 4,
    decoderLayers: 4,
    heads: 6,
    ffnDim: 1536,
    melBins: 80,
    baseVocab: WHISPER_BASE_VOCAB,
    alignmentHeads: [[2, 2], [3, 0], [3, 2], [3, 3], [3, 4], [3, 5]],
  },
  // openai/whisper-base's.
  'whisper-base': {
    dModel: 512,
    encoderLayers: 6,
    decoderLayers: 6,
    heads: 8,
    ffnDim: 2048,
    melBins: 80,
    baseVocab: WHISPER_BASE_VOCAB,
    alignmentHeads: [[3, 1], [4, 2], [4, 3], [4, 7], [5, 1], [5, 2], [5, 4], [5, 6]],
  },
};

/**
 * transformers.js dtype names and their file suffixes. The extra files are copies of the float32
 * graphs (real quantized exports differ only in their weights): they let serving code's dtype
 * selection be tested.
 */
export const WHISPER_DTYPE_SUFFIXES = { q8: '_quantized', int8: '_int8', uint8: '_uint8', q4: '_q4' } as const;
export type WhisperExtraDtype = keyof typeof WHISPER_DTYPE_SUFFIXES;

export interface GenerateWhisperModelOptions {
  /** Output folder (created; replaced when it exists). */
  dir: string;
  shape?: WhisperShapeName | WhisperModelShape;
  seed?: number;
  /** Write the decoder's cross_attentions.N outputs (word-level timestamps); default true. */
  crossAttentions?: boolean;
  /** Also write the graphs under these dtypes' file names. */
  extraDtypes?: readonly WhisperExtraDtype[];
}

export interface GeneratedWhisperModel {
  dir: string;
  shape: WhisperModelShape;
  vocabSize: number;
  params: number;
  encoderBytes: number;
  decoderBytes: number;
  tokens: {
    endOfText: number;
    startOfTranscript: number;
    translate: number;
    transcribe: number;
    startOfPrev: number;
    noSpeech: number;
    noTimestamps: number;
    /** <|0.00|>; <|t|> is timestampBegin + t / 0.02. */
    timestampBegin: number;
  };
  /** Language codes with a token (Whisper's 99). */
  languages: string[];
}

/** Writes the model folder; returns what it wrote. */
export function generateWhisperModel(options: GenerateWhisperModelOptions): GeneratedWhisperModel {
  const shape = typeof options.shape === 'object' ? options.shape : WHISPER_SHAPES[options.shape ?? 'tiny'];
  const seed = options.seed ?? 1;
  const crossAttentions = options.crossAttentions ?? true;
  const vocab = generateWhisperVocab({ baseSize: shape.baseVocab, extraWords: SENTENCE_WORDS });

  const tmp = `${options.dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'onnx'), { recursive: true });
  const encoder = buildWhisperEncoder(shape, seed);
  writeFileSync(join(tmp, 'onnx', 'encoder_model.onnx'), encoder.graph.encode());
  const decoder = buildWhisperDecoder({ shape, vocab, seed, alignmentHeads: shape.alignmentHeads, crossAttentions });
  writeFileSync(join(tmp, 'onnx', 'decoder_model_merged.onnx'), decoder.graph.encode());
  for (const dtype of options.extraDtypes ?? []) {
    for (const file of ['encoder_model', 'decoder_model_merged']) {
      copyFileSync(join(tmp, 'onnx', `${file}.onnx`), join(tmp, 'onnx', `${file}${WHISPER_DTYPE_SUFFIXES[dtype]}.onnx`));
    }
  }
  const json = (name: string, value: object, pretty = true): void => writeFileSync(join(tmp, name), JSON.stringify(value, null, pretty ? 2 : undefined));
  json('config.json', whisperConfig(shape, vocab));
  json('generation_config.json', whisperGenerationConfig(shape, vocab));
  json('preprocessor_config.json', whisperPreprocessorConfig(shape));
  json('tokenizer.json', whisperTokenizerJson(vocab), false);
  json('tokenizer_config.json', whisperTokenizerConfig());
  json('special_tokens_map.json', whisperSpecialTokensMap(vocab));
  rmSync(options.dir, { recursive: true, force: true });
  renameSync(tmp, options.dir);

  const size = (file: string): number => statSync(join(options.dir, 'onnx', file)).size;
  return {
    dir: options.dir,
    shape,
    vocabSize: vocab.tokens.length,
    params: encoder.params + decoder.params,
    encoderBytes: size('encoder_model.onnx'),
    decoderBytes: size('decoder_model_merged.onnx'),
    tokens: {
      endOfText: vocab.eot,
      startOfTranscript: vocab.sot,
      translate: vocab.translate,
      transcribe: vocab.transcribe,
      startOfPrev: vocab.startOfPrev,
      noSpeech: vocab.noSpeech,
      noTimestamps: vocab.noTimestamps,
      timestampBegin: vocab.timestampBegin,
    },
    languages: [...vocab.languages.keys()],
  };
}

function whisperConfig(shape: WhisperModelShape, v: WhisperVocab): object {
  return {
    model_type: 'whisper',
    architectures: ['WhisperForConditionalGeneration'],
    d_model: shape.dModel,
    encoder_layers: shape.encoderLayers,
    decoder_layers: shape.decoderLayers,
    num_hidden_layers: shape.encoderLayers,
    encoder_attention_heads: shape.heads,
    decoder_attention_heads: shape.heads,
    encoder_ffn_dim: shape.ffnDim,
    decoder_ffn_dim: shape.ffnDim,
    num_mel_bins: shape.melBins,
    vocab_size: v.tokens.length,
    max_source_positions: ENCODER_FRAMES,
    max_target_positions: MAX_TARGET_POSITIONS,
    max_length: MAX_TARGET_POSITIONS,
    is_encoder_decoder: true,
    use_cache: true,
    activation_function: 'gelu',
    scale_embedding: false,
    median_filter_width: 7,
    begin_suppress_tokens: [v.space, v.eot],
    bos_token_id: v.eot,
    eos_token_id: v.eot,
    pad_token_id: v.eot,
    decoder_start_token_id: v.sot,
    torch_dtype: 'float32',
    _generated_by: 'switchyard model-gen (random weights)',
  };
}

function whisperGenerationConfig(shape: WhisperModelShape, v: WhisperVocab): object {
  return {
    alignment_heads: shape.alignmentHeads,
    begin_suppress_tokens: [v.space, v.eot],
    bos_token_id: v.eot,
    decoder_start_token_id: v.sot,
    eos_token_id: v.eot,
    pad_token_id: v.eot,
    is_multilingual: true,
    lang_to_id: Object.fromEntries([...v.languages].map(([code, id]) => [`<|${code}|>`, id])),
    task_to_id: { transcribe: v.transcribe, translate: v.translate },
    max_initial_timestamp_index: 50,
    max_length: MAX_TARGET_POSITIONS,
    no_timestamps_token_id: v.noTimestamps,
    prev_sot_token_id: v.startOfPrev,
    return_timestamps: false,
    // As the real models: some punctuation, and the task and control tokens.
    suppress_tokens: [...v.suppressed, v.translate, v.transcribe, v.startOfLm, v.startOfPrev, v.noSpeech],
  };
}

function whisperPreprocessorConfig(shape: WhisperModelShape): object {
  return {
    chunk_length: 30,
    feature_extractor_type: 'WhisperFeatureExtractor',
    feature_size: shape.melBins,
    hop_length: 160,
    n_fft: 400,
    n_samples: 480000,
    nb_max_frames: 3000,
    padding_side: 'right',
    padding_value: 0.0,
    processor_class: 'WhisperProcessor',
    return_attention_mask: false,
    sampling_rate: 16000,
  };
}
