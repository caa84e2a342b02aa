/**
 * The generated Stable Diffusion pipeline on the real ONNX Runtime: the Optimum folder layout, each
 * graph's signature, runs at odd sizes and batches, the CLIP tokenizer through transformers.js,
 * external data, and determinism per seed. ('sd-turbo' is too big for a unit test.)
 */
import './node-realm.testing';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type * as Transformers from '@huggingface/transformers' with { 'resolution-mode': 'import' };
import { CLIP_MAX_LENGTH, generateDiffusionPipeline, type GeneratedDiffusionPipeline } from './diffusion-model';

// The CommonJS build (jest cannot import ESM without --experimental-vm-modules).
const transformers = createRequire(__filename)('@huggingface/transformers') as typeof Transformers;
transformers.env.allowRemoteModels = false;
transformers.env.allowLocalModels = true;

jest.setTimeout(60_000);

const GRAPHS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'] as const;

const randn = (n: number, seed: number): Float32Array => {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
};
const floats = (dims: number[], seed = 1): ort.Tensor => new ort.Tensor('float32', randn(dims.reduce((a, b) => a * b, 1), seed), dims);
const allFinite = (t: ort.Tensor): boolean => (t.data as Float32Array).every((v) => Number.isFinite(v));

describe('generateDiffusionPipeline (tiny, on ONNX Runtime)', () => {
  let root: string;
  let model: GeneratedDiffusionPipeline;
  const sessions = new Map<string, ort.InferenceSession>();
  const session = (part: string): ort.InferenceSession => sessions.get(part)!;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'switchyard-diffusion-'));
    model = generateDiffusionPipeline({ dir: join(root, 'tiny'), seed: 3 });
    for (const part of GRAPHS) sessions.set(part, await ort.InferenceSession.create(join(model.dir, part, 'model.onnx'), { intraOpNumThreads: 1 }));
  });
  afterAll(async () => {
    for (const s of sessions.values()) await s.release();
    rmSync(root, { recursive: true, force: true });
  });

  it("writes Optimum's folder layout with the diffusers configs", () => {
    for (const file of [
      'model_index.json',
      'scheduler/scheduler_config.json',
      'tokenizer/tokenizer.json',
      'tokenizer/tokenizer_config.json',
      'tokenizer/special_tokens_map.json',
      'tokenizer/vocab.json',
      'tokenizer/merges.txt',
      ...GRAPHS.flatMap((p) => [`${p}/model.onnx`, `${p}/config.json`]),
    ]) {
      expect(existsSync(join(model.dir, file))).toBe(true);
    }
    const json = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(model.dir, file), 'utf8')) as Record<string, unknown>;
    expect(json('model_index.json')).toMatchObject({ _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'], tokenizer: ['transformers', 'CLIPTokenizer'] });
    expect(json('scheduler/scheduler_config.json')).toMatchObject({ _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'trailing', beta_schedule: 'scaled_linear' });
    expect(json('unet/config.json')).toMatchObject({ in_channels: 4, cross_attention_dim: model.hiddenSize, block_out_channels: [32, 64] });
    expect(json('vae_decoder/config.json')).toMatchObject({ scaling_factor: 0.18215, latent_channels: 4 });
    const text = json('text_encoder/config.json');
    const vocab = JSON.parse(readFileSync(join(model.dir, 'tokenizer/vocab.json'), 'utf8')) as Record<string, number>;
    expect(text).toMatchObject({ hidden_size: model.hiddenSize, max_position_embeddings: 77 });
    expect(text.vocab_size).toBe(Math.max(...Object.values(vocab)) + 1);
    expect(model).toMatchObject({ shape: 'tiny', latentChannels: 4, vaeScale: 8, scalingFactor: 0.18215 });
    expect(model.params).toBeGreaterThan(0);
  });

  it('has the graph signatures Optimum exports', () => {
    const signature = (part: string): { inputs: string[]; outputs: string[]; types: string[] } => {
      const s = session(part);
      const types = s.inputMetadata.map((m) => (m.isTensor ? m.type : 'non-tensor'));
      return { inputs: [...s.inputNames], outputs: [...s.outputNames], types };
    };
    expect(signature('text_encoder')).toEqual({ inputs: ['input_ids'], outputs: ['last_hidden_state', 'pooler_output'], types: ['int64'] });
    expect(signature('unet')).toEqual({ inputs: ['sample', 'timestep', 'encoder_hidden_states'], outputs: ['out_sample'], types: ['float32', 'int64', 'float32'] });
    expect(signature('vae_decoder')).toEqual({ inputs: ['latent_sample'], outputs: ['sample'], types: ['float32'] });
    expect(signature('vae_encoder')).toEqual({ inputs: ['sample'], outputs: ['latent_sample'], types: ['float32'] });
  });

  it('runs text encoder, UNet (batches, non-square) and both VAE halves', async () => {
    const ids = new BigInt64Array(CLIP_MAX_LENGTH).fill(BigInt(model.eosId));
    [model.bosId, 300, 301, 302].forEach((id, i) => (ids[i] = BigInt(id)));
    const text = await session('text_encoder').run({ input_ids: new ort.Tensor('int64', ids, [1, CLIP_MAX_LENGTH]) });
    expect(text.last_hidden_state!.dims).toEqual([1, 77, model.hiddenSize]);
    expect(text.pooler_output!.dims).toEqual([1, model.hiddenSize]);
    // The pooler is the hidden state at the first eos (index 4).
    const hidden = text.last_hidden_state!.data as Float32Array;
    expect(Array.from(text.pooler_output!.data as Float32Array)).toEqual(Array.from(hidden.subarray(4 * model.hiddenSize, 5 * model.hiddenSize)));
    expect(allFinite(text.last_hidden_state!)).toBe(true);

    const context = (batch: number): ort.Tensor => {
      const one = text.last_hidden_state!.data as Float32Array;
      const data = new Float32Array(batch * one.length);
      for (let b = 0; b < batch; b++) data.set(one, b * one.length);
      return new ort.Tensor('float32', data, [batch, 77, model.hiddenSize]);
    };
    for (const [batch, h, w] of [
      [1, 8, 8],
      [2, 8, 12],
      [1, 5, 7],
    ] as const) {
      const out = await session('unet').run({
        sample: floats([batch, 4, h, w]),
        timestep: new ort.Tensor('int64', new BigInt64Array(batch).fill(999n), [batch]),
        encoder_hidden_states: context(batch),
      });
      expect(out.out_sample!.dims).toEqual([batch, 4, h, w]);
      expect(allFinite(out.out_sample!)).toBe(true);
      const std = Math.sqrt((out.out_sample!.data as Float32Array).reduce((a, v) => a + v * v, 0) / out.out_sample!.size);
      expect(std).toBeGreaterThan(0.05);
      expect(std).toBeLessThan(5);
    }

    const image = (await session('vae_decoder').run({ latent_sample: floats([1, 4, 8, 8]) })).sample!;
    expect(image.dims).toEqual([1, 3, 64, 64]);
    expect(allFinite(image)).toBe(true);
    const pixels = image.data as Float32Array;
    const inRange = pixels.filter((v) => v >= -1 && v <= 1).length / pixels.length;
    expect(inRange).toBeGreaterThan(0.8);
    expect(Math.max(...pixels) - Math.min(...pixels)).toBeGreaterThan(0.2);

    const latents = (await session('vae_encoder').run({ sample: floats([1, 3, 64, 64]) })).latent_sample!;
    expect(latents.dims).toEqual([1, 4, 8, 8]);
    expect(allFinite(latents)).toBe(true);
  });

  it('takes a float timestep when asked, and can store weights as external data', async () => {
    const dir = join(root, 'float');
    generateDiffusionPipeline({ dir, seed: 3, timestepType: 'float', externalData: true });
    expect(existsSync(join(dir, 'unet', 'model.onnx_data'))).toBe(true);
    const unet = await ort.InferenceSession.create(join(dir, 'unet', 'model.onnx'), { intraOpNumThreads: 1 });
    try {
      const meta = unet.inputMetadata[1]!;
      expect(meta.isTensor && meta.type).toBe('float32');
      const inputs = { sample: floats([1, 4, 8, 8]), encoder_hidden_states: floats([1, 77, model.hiddenSize], 2) };
      const out = await unet.run({ ...inputs, timestep: new ort.Tensor('float32', Float32Array.of(999), [1]) });
      // Same seed, same weights: the external-data graph computes what the inline one does.
      const inline = await session('unet').run({ ...inputs, timestep: new ort.Tensor('int64', BigInt64Array.of(999n), [1]) });
      expect(Array.from(out.out_sample!.data as Float32Array)).toEqual(Array.from(inline.out_sample!.data as Float32Array));
    } finally {
      await unet.release();
    }
  });

  it('writes a CLIP tokenizer transformers.js loads', async () => {
    const tokenizer = await transformers.AutoTokenizer.from_pretrained(join(model.dir, 'tokenizer'), { local_files_only: true });
    expect(tokenizer.constructor.name).toBe('CLIPTokenizer');
    const ids = tokenizer.encode('a photo of a cat');
    expect(ids).toHaveLength(7); // bos, five words, eos
    expect(ids[0]).toBe(model.bosId);
    expect(ids[ids.length - 1]).toBe(model.eosId);
    // Lowercased and whitespace-collapsed, as CLIP's normalizer does.
    expect(tokenizer.encode('A  Photo of a CAT')).toEqual(ids);
    // Unknown words still encode, as byte-level pieces.
    expect(tokenizer.encode('zzyzx quokka').length).toBeGreaterThan(4);
    const padded = tokenizer('a photo of a cat', { padding: 'max_length', max_length: 77, truncation: true, return_tensor: false }) as {
      input_ids: number[];
      attention_mask: number[];
    };
    expect(padded.input_ids).toHaveLength(77);
    expect(padded.input_ids.slice(7).every((id) => id === model.eosId)).toBe(true);
    expect(padded.attention_mask.reduce((a, b) => a + b, 0)).toBe(7);
    const long = tokenizer('cat '.repeat(100), { padding: 'max_length', max_length: 77, truncation: true, return_tensor: false }) as { input_ids: number[] };
    expect(long.input_ids).toHaveLength(77);
    // transformers.js truncates after adding bos/eos, so a long prompt loses its eos (the pooler's
    // argmax then takes the largest id); Python's tokenizers keep it.
    expect(long.input_ids[0]).toBe(model.bosId);
    expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe('a photo of a cat');
  });

  it('is deterministic per seed', () => {
    generateDiffusionPipeline({ dir: join(root, 'a'), seed: 9 });
    generateDiffusionPipeline({ dir: join(root, 'b'), seed: 9 });
    generateDiffusionPipeline({ dir: join(root, 'c'), seed: 10 });
    for (const part of GRAPHS) {
      const file = (d: string): Buffer => readFileSync(join(root, d, part, 'model.onnx'));
      expect(file('a').equals(file('b'))).toBe(true);
      expect(file('a').equals(file('c'))).toBe(false);
    }
  });
});
