/**
 * Integration test of the generated Whisper: the folder as transformers.js's
 * automatic-speech-recognition pipeline loads it offline, on the real ONNX Runtime, with every
 * option the speech-to-text API needs (timestamps, words, translation, long audio).
 */
import './node-realm.testing';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type * as Transformers from '@huggingface/transformers' with { 'resolution-mode': 'import' };
import { generateWhisperModel, type GeneratedWhisperModel } from './whisper-model';

// The CommonJS build (jest cannot import ESM without --experimental-vm-modules).
const transformers = createRequire(__filename)('@huggingface/transformers') as typeof Transformers;
transformers.env.allowRemoteModels = false;

// Under load (shared CI machines) a pipeline call can take seconds.
jest.setTimeout(60_000);

type Chunk = { text: string; timestamp: [number, number | null] };
type Result = { text: string; chunks?: Chunk[] };
type Asr = (audio: Float32Array, options?: Record<string, unknown>) => Promise<Result>;

const RATE = 16000;
const tone = (seconds: number, hz = 440): Float32Array =>
  Float32Array.from({ length: Math.round(seconds * RATE) }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / RATE));
const silence = (seconds: number): Float32Array => new Float32Array(Math.round(seconds * RATE));
const concat = (...parts: Float32Array[]): Float32Array => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const ends = (chunks: Chunk[]): number[] => chunks.map((c) => c.timestamp[1]!);

describe('generateWhisperModel (integration: transformers.js pipeline on ONNX Runtime)', () => {
  let root: string;
  let model: GeneratedWhisperModel;
  let asr: Asr;
  let pipe: Transformers.AutomaticSpeechRecognitionPipeline;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'switchyard-whisper-'));
    model = generateWhisperModel({ dir: join(root, 'tiny'), extraDtypes: ['q8'] });
    pipe = (await transformers.pipeline('automatic-speech-recognition', model.dir, { local_files_only: true })) as Transformers.AutomaticSpeechRecognitionPipeline;
    asr = (audio, options) => pipe(audio, { language: 'en', ...options }) as Promise<Result>;
  }, 60_000);
  afterAll(async () => {
    await pipe?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('writes the Hugging Face layout with the graph signatures transformers.js expects', async () => {
    for (const file of ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      expect(existsSync(join(model.dir, file))).toBe(true);
    }
    const encoder = await ort.InferenceSession.create(join(model.dir, 'onnx', 'encoder_model.onnx'));
    const decoder = await ort.InferenceSession.create(join(model.dir, 'onnx', 'decoder_model_merged.onnx'));
    try {
      expect(encoder.inputNames).toEqual(['input_features']);
      expect(encoder.outputNames).toEqual(['last_hidden_state']);
      expect(decoder.inputNames).toEqual(expect.arrayContaining(['input_ids', 'encoder_hidden_states', 'use_cache_branch', 'past_key_values.1.encoder.value']));
      expect(decoder.outputNames).toEqual(expect.arrayContaining(['logits', 'present.0.decoder.key', 'present.1.encoder.value', 'cross_attentions.0', 'cross_attentions.1']));
    } finally {
      await encoder.release();
      await decoder.release();
    }
    const generation = JSON.parse(readFileSync(join(model.dir, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
    expect(generation).toMatchObject({ no_timestamps_token_id: model.tokens.noTimestamps, task_to_id: { translate: model.tokens.translate } });
    expect(Object.keys(generation.lang_to_id as object)).toEqual(expect.arrayContaining(['<|en|>', '<|de|>', '<|fr|>', '<|es|>', '<|it|>', '<|ja|>', '<|zh|>']));
  });

  it('transcribes a tone to short, deterministic text', async () => {
    const first = await asr(tone(3));
    const second = await asr(tone(3));
    expect(first.text.trim().length).toBeGreaterThan(0);
    expect(first.text.split(' ').length).toBeLessThan(20);
    expect(second.text).toBe(first.text);
  });

  it('gives timestamped segments that follow where the audio has sound', async () => {
    const single = await asr(tone(3), { return_timestamps: true });
    expect(single.chunks).toHaveLength(1);
    expect(single.chunks![0]!.timestamp[0]).toBe(0);
    expect(single.chunks![0]!.timestamp[1]).toBeCloseTo(3, 0);
    // 1 s silence, 2 s tone, 2 s silence, 3 s tone: the second segment starts when its tone does.
    const gap = await asr(concat(silence(1), tone(2), silence(2), tone(3, 880)), { return_timestamps: true });
    expect(gap.chunks).toHaveLength(2);
    expect(gap.chunks![1]!.timestamp[0]).toBeGreaterThanOrEqual(4.9);
    expect(gap.chunks![1]!.timestamp[1]).toBeCloseTo(8, 0);
    expect(gap.chunks!.map((c) => c.text).join('')).toBe(gap.text);
    // Continuous sound is cut into segments of at most 5 s.
    const long = await asr(tone(12), { return_timestamps: true });
    expect(long.chunks!.length).toBeGreaterThanOrEqual(3);
    for (const c of long.chunks!) expect(c.timestamp[1]! - c.timestamp[0]).toBeLessThanOrEqual(5.01);
  });

  it('gives word-level timestamps inside their segments, in order', async () => {
    const audio = concat(silence(1), tone(2), silence(2), tone(3, 880));
    const segments = await asr(audio, { return_timestamps: true });
    const words = await asr(audio, { return_timestamps: 'word' });
    expect(words.text).toBe(segments.text);
    expect(words.chunks!.length).toBeGreaterThan(segments.chunks!.length);
    expect(words.chunks!.map((w) => w.text).join('')).toBe(words.text);
    let last = 0;
    for (const w of words.chunks!) {
      expect(w.timestamp[0]).toBeGreaterThanOrEqual(last);
      expect(w.timestamp[1]!).toBeGreaterThanOrEqual(w.timestamp[0]);
      last = w.timestamp[0];
    }
    expect(words.chunks!.at(-1)!.timestamp[1]!).toBeLessThanOrEqual(8.1);
  });

  it('translates from a given language', async () => {
    const result = await asr(tone(3), { task: 'translate', language: 'fr' });
    expect(result.text.trim().length).toBeGreaterThan(0);
    expect((await asr(tone(3), { task: 'translate', language: 'french' })).text).toBe(result.text);
  });

  it('transcribes 65 s in 30 s chunks, with segments past 30 s', async () => {
    const timed = await asr(tone(65), { chunk_length_s: 30, return_timestamps: true });
    expect(timed.text.trim().length).toBeGreaterThan(0);
    expect(Math.max(...ends(timed.chunks!))).toBeGreaterThan(60);
    expect(ends(timed.chunks!)).toEqual([...ends(timed.chunks!)].sort((a, b) => a - b));
  });

  it('has a byte-level BPE tokenizer that round-trips any text, words as single tokens', () => {
    const words = pipe.tokenizer.encode(' The quick fox', { add_special_tokens: false });
    expect(words).toHaveLength(3);
    expect(pipe.tokenizer.decode(words)).toBe(' The quick fox');
    const any = ' Grüße, 世界! 42';
    expect(pipe.tokenizer.decode(pipe.tokenizer.encode(any, { add_special_tokens: false }))).toBe(any);
    // As openai/whisper-*: encoding with special tokens adds <|startoftranscript|><|notimestamps|>.
    expect(pipe.tokenizer.encode(' hi').slice(0, 2)).toEqual([model.tokens.startOfTranscript, model.tokens.noTimestamps]);
  });

  it('takes a previous-text prompt as decoder_input_ids (and transformers.js echoes it in the text)', async () => {
    const prompt = pipe.tokenizer.encode(' hello world', { add_special_tokens: false });
    const { lang_to_id } = pipe.model.generation_config as unknown as { lang_to_id: Record<string, number> };
    const prefix = [model.tokens.startOfTranscript, lang_to_id['<|en|>']!, model.tokens.transcribe, model.tokens.noTimestamps];
    const plain = await asr(tone(3));
    const prompted = await asr(tone(3), { decoder_input_ids: [model.tokens.startOfPrev, ...prompt, ...prefix] });
    expect(prompted.text.startsWith(' hello world ')).toBe(true);
    expect(prompted.text.length).toBeGreaterThan(' hello world '.length);
    expect(plain.text.includes('hello')).toBe(false);
  });

  it('samples when asked (temperature), and stays short', async () => {
    const results = await Promise.all([1, 2, 3].map(() => asr(tone(3), { do_sample: true, temperature: 1 })));
    for (const r of results) expect(r.text.split(' ').length).toBeLessThan(20);
  });

  it('puts English first and <|nospeech|> on silence after <|startoftranscript|> (language detection)', async () => {
    const firstStep = async (audio: Float32Array): Promise<Float32Array> => {
      const { input_features } = (await pipe.processor(audio)) as { input_features: Transformers.Tensor };
      const decoderInputIds = new transformers.Tensor('int64', [BigInt(model.tokens.startOfTranscript)], [1, 1]);
      const out = (await pipe.model({ input_features, decoder_input_ids: decoderInputIds })) as { logits: Transformers.Tensor };
      return out.logits.data as Float32Array;
    };
    const argmax = (x: Float32Array): number => x.indexOf(Math.max(...x));
    const sound = await firstStep(tone(3));
    expect(pipe.tokenizer.decode([argmax(sound)])).toBe('<|en|>');
    const quiet = await firstStep(silence(3));
    expect(argmax(quiet)).toBe(model.tokens.noSpeech);
  });

  it('loads a dtype variant by its file name', async () => {
    const q8 = await transformers.pipeline('automatic-speech-recognition', model.dir, { local_files_only: true, dtype: 'q8' });
    try {
      expect(((await q8(tone(2), { language: 'en' })) as Result).text).toBe((await asr(tone(2))).text);
    } finally {
      await q8.dispose();
    }
  });

  it('is deterministic per seed', () => {
    const again = generateWhisperModel({ dir: join(root, 'again') });
    const other = generateWhisperModel({ dir: join(root, 'other'), seed: 2 });
    const decoder = (m: GeneratedWhisperModel): Buffer => readFileSync(join(m.dir, 'onnx', 'decoder_model_merged.onnx'));
    expect(decoder(again).equals(decoder(model))).toBe(true);
    expect(decoder(other).equals(decoder(model))).toBe(false);
  });
});
