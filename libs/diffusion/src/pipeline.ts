/**
 * A Stable Diffusion pipeline on onnxruntime-node, run the way diffusers' StableDiffusionPipeline
 * (and its img2img and legacy inpaint variants) runs it: CLIP text encoding (with the negative
 * prompt's pass for classifier-free guidance), seeded Gaussian latents, the scheduler's loop over
 * the UNet, and the VAE decoder. Edits encode the image with the VAE encoder and start from it
 * noised to `strength`; a mask keeps the latents outside it on the original's noised path at every
 * step, and the kept pixels are pasted back after decoding. Every call blocks its thread while a
 * graph runs (onnxruntime-node runs on the caller's thread), hence the pipeline thread.
 */
import type * as Ort from 'onnxruntime-node';
import type * as TransformersModule from '@huggingface/transformers' with { 'resolution-mode': 'import' };
import { readPipelineLayout, type PipelineLayout } from './pipeline-config';
import { keepUnmasked, latentMask, planarToRgb, rgbToPlanar, type RgbImage } from './pixels';
import { SeededRandom } from './random';
import { createScheduler, type SchedulerName } from './schedulers';

/** CLIP's context: every SD text encoder takes 77 ids. */
const TOKENS = 77;
const LATENT_CHANNELS = 4;
const VAE_SCALE = 8;

export interface PipelineOptions {
  threads: number;
  device: 'cpu' | 'cuda';
  /** Replaces the scheduler named in scheduler_config.json. */
  scheduler?: SchedulerName;
}

export interface ImageInit {
  image: RgbImage;
  /** One byte a pixel: 255 repaints it, 0 keeps it (already flipped from OpenAI's transparent = edit). */
  mask?: Uint8Array;
  strength: number;
}

export interface GenerateRequest {
  prompt: string;
  negativePrompt?: string;
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
  seed: number;
  scheduler?: SchedulerName;
  init?: ImageInit;
  /** Previews to decode from the predicted clean latents, spread over the steps. */
  previews: number;
}

export interface GenerateHooks {
  /** After each UNet step (1-based). */
  step?(step: number, steps: number): void;
  preview?(image: RgbImage, partial: number): void;
  /** Checked between steps: true stops the loop with an AbortError. */
  aborted?(): boolean;
}

export interface GenerateOutput {
  image: RgbImage;
  steps: number;
  scheduler: SchedulerName;
  promptTokens: number;
}

type Transformers = typeof TransformersModule;

/** The tokenizer call this needs (transformers.js's PreTrainedTokenizer). */
type Tokenize = (text: string) => { ids: bigint[]; tokens: number };

export class AbortedError extends Error {
  constructor() {
    super('the request was cancelled');
    this.name = 'AbortError';
  }
}

/** Loaded with the first pipeline, so that importing this lib (the gateway's image checks) never loads the native runtime. */
let ort: typeof Ort;

function float(data: Float32Array, dims: number[]): Ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

/** Which steps send a preview: `count` of them, evenly spread, never the last (that is the image). */
export function previewSteps(steps: number, count: number): Set<number> {
  const n = Math.min(count, steps - 1);
  const out = new Set<number>();
  for (let k = 1; k <= n; k++) out.add(Math.floor((k * steps) / (n + 1)) - 1);
  return out;
}

export class DiffusionPipeline {
  private constructor(
    readonly layout: PipelineLayout,
    private readonly tokenize: Tokenize,
    private readonly textEncoder: Ort.InferenceSession,
    private readonly unet: Ort.InferenceSession,
    private readonly vaeDecoder: Ort.InferenceSession,
    private readonly vaeEncoder: Ort.InferenceSession | undefined,
    private readonly timestepType: 'int64' | 'float32',
  ) {}

  static async load(dir: string, options: PipelineOptions): Promise<DiffusionPipeline> {
    const layout = readPipelineLayout(dir, options.scheduler);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ort ??= require('onnxruntime-node') as typeof Ort;
    // transformers.js's CommonJS build: a dynamic import() would need jest's VM modules.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const lib = require('@huggingface/transformers') as Transformers;
    lib.env.allowRemoteModels = false;
    lib.env.allowLocalModels = true;
    const tokenizer = await lib.AutoTokenizer.from_pretrained(layout.tokenizer, { local_files_only: true });
    const eos = tokenizer.eos_token_id ?? 0;
    const pad = tokenizer.pad_token_id ?? eos;
    // Truncated and padded here, as CLIP's Python tokenizer does it: a long prompt keeps its end token
    // in the last place (transformers.js would cut it off), and pads after it.
    const tokenize: Tokenize = (text) => {
      let ids = tokenizer.encode(text);
      if (ids.length > TOKENS) ids = [...ids.slice(0, TOKENS - 1), eos];
      const tokens = ids.length;
      return { ids: [...ids, ...new Array<number>(TOKENS - tokens).fill(pad)].map((id) => BigInt(id)), tokens };
    };
    const sessionOptions: Ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      executionProviders: options.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      logSeverityLevel: 3,
    };
    const opened: Ort.InferenceSession[] = [];
    const open = async (path: string): Promise<Ort.InferenceSession> => {
      const s = await ort.InferenceSession.create(path, sessionOptions);
      opened.push(s);
      return s;
    };
    try {
      const [textEncoder, unet, vaeDecoder] = [await open(layout.textEncoder), await open(layout.unet), await open(layout.vaeDecoder)];
      const vaeEncoder = layout.vaeEncoder ? await open(layout.vaeEncoder) : undefined;
      // Optimum exports the timestep as int64 for some models and float for others.
      const meta = unet.inputMetadata.find((m) => m.name === 'timestep');
      const timestepType = meta && meta.isTensor && meta.type === 'int64' ? 'int64' : 'float32';
      return new DiffusionPipeline(layout, tokenize, textEncoder, unet, vaeDecoder, vaeEncoder, timestepType);
    } catch (err) {
      await Promise.all(opened.map((s) => s.release()));
      throw err;
    }
  }

  get canEdit(): boolean {
    return this.vaeEncoder !== undefined;
  }

  async generate(req: GenerateRequest, hooks: GenerateHooks = {}): Promise<GenerateOutput> {
    const { width, height } = req;
    const lh = height / VAE_SCALE;
    const lw = width / VAE_SCALE;
    const size = LATENT_CHANNELS * lh * lw;
    const guided = req.guidanceScale > 1;
    const { states, tokens } = await this.encodePrompt(req.prompt, guided ? (req.negativePrompt ?? '') : undefined);
    const schedulerName = req.scheduler ?? this.layout.schedulerName;
    const random = new SeededRandom(req.seed);
    const noise = random.normals(size);
    const strength = req.init ? req.init.strength : 1;
    const scheduler = createScheduler(schedulerName, this.layout.scheduler, req.steps, strength);
    let initLatents: Float32Array | undefined;
    let latents: Float32Array;
    if (req.init) {
      initLatents = await this.encodeImage(req.init.image);
      latents = strength >= 1 ? scale(noise, scheduler.initNoiseSigma) : scheduler.addNoise(initLatents, noise);
    } else {
      latents = scale(noise, scheduler.initNoiseSigma);
    }
    const mask = req.init?.mask ? latentMask(req.init.mask, width, height, VAE_SCALE) : undefined;
    const previews = previewSteps(scheduler.timesteps.length, req.previews);
    let partial = 0;
    const steps = scheduler.timesteps.length;
    for (let i = 0; i < steps; i++) {
      if (hooks.aborted?.()) throw new AbortedError();
      const input = scheduler.scaleModelInput(latents, i);
      const eps = await this.predictNoise(input, scheduler.timesteps[i]!, states, guided ? req.guidanceScale : 0, [lh, lw]);
      const { prevSample, predOriginal } = scheduler.step(eps, i, latents, random);
      latents = prevSample;
      if (mask && initLatents) latents = blend(latents, scheduler.addNoiseAfter(initLatents, noise, i), mask, lh * lw);
      hooks.step?.(i + 1, steps);
      if (previews.has(i) && hooks.preview) {
        const preview = mask && initLatents ? blend(predOriginal, initLatents, mask, lh * lw) : predOriginal;
        hooks.preview(await this.decode(preview, width, height), partial++);
      }
    }
    let image = await this.decode(latents, width, height);
    if (req.init?.mask) image = keepUnmasked(image, req.init.image, req.init.mask);
    return { image, steps, scheduler: schedulerName, promptTokens: tokens };
  }

  /** Tokens the prompt takes (with CLIP's start and end tokens), at most 77. */
  countTokens(prompt: string): number {
    return this.tokenize(prompt).tokens;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.textEncoder, this.unet, this.vaeDecoder, this.vaeEncoder].map((s) => s?.release()));
  }

  /** [uncond?, cond] text states in one batch, as diffusers concatenates them. */
  private async encodePrompt(prompt: string, negative: string | undefined): Promise<{ states: Ort.Tensor; tokens: number }> {
    const cond = this.tokenize(prompt);
    const rows = negative === undefined ? [cond.ids] : [this.tokenize(negative).ids, cond.ids];
    const ids = new ort.Tensor('int64', BigInt64Array.from(rows.flat()), [rows.length, TOKENS]);
    const out = await this.textEncoder.run({ input_ids: ids });
    const states = out.last_hidden_state ?? out[this.textEncoder.outputNames[0]!]!;
    return { states, tokens: cond.tokens };
  }

  private async predictNoise(sample: Float32Array, t: number, states: Ort.Tensor, guidance: number, [lh, lw]: [number, number]): Promise<Float32Array> {
    const batch = states.dims[0]!;
    const input = new Float32Array(sample.length * batch);
    for (let b = 0; b < batch; b++) input.set(sample, b * sample.length);
    // A fractional timestep (Euler's interpolated schedules) truncates as numpy's cast to int64 does.
    const timestep =
      this.timestepType === 'int64' ? new ort.Tensor('int64', BigInt64Array.from({ length: batch }, () => BigInt(Math.trunc(t))), [batch]) : float(Float32Array.from({ length: batch }, () => t), [batch]);
    const out = await this.unet.run({ sample: float(input, [batch, LATENT_CHANNELS, lh, lw]), timestep, encoder_hidden_states: states });
    const pred = (out.out_sample ?? out[this.unet.outputNames[0]!]!).data as Float32Array;
    if (batch === 1) return Float32Array.from(pred);
    // noise = uncond + g * (cond - uncond)
    const n = sample.length;
    const guided = new Float32Array(n);
    for (let k = 0; k < n; k++) guided[k] = pred[k]! + guidance * (pred[n + k]! - pred[k]!);
    return guided;
  }

  private async encodeImage(image: RgbImage): Promise<Float32Array> {
    if (!this.vaeEncoder) throw new Error('this pipeline has no vae_encoder: it cannot edit images');
    const input = float(rgbToPlanar(image), [1, 3, image.height, image.width]);
    const out = await this.vaeEncoder.run({ [this.vaeEncoder.inputNames[0]!]: input });
    const t = out.latent_sample ?? out[this.vaeEncoder.outputNames[0]!]!;
    const data = t.data as Float32Array;
    // Exports that return the distribution's parameters (mean and log-variance, 8 channels): the mean.
    const size = LATENT_CHANNELS * (image.height / VAE_SCALE) * (image.width / VAE_SCALE);
    return scale(data.subarray(0, size), this.layout.scalingFactor);
  }

  private async decode(latents: Float32Array, width: number, height: number): Promise<RgbImage> {
    const input = float(scale(latents, 1 / this.layout.scalingFactor), [1, LATENT_CHANNELS, height / VAE_SCALE, width / VAE_SCALE]);
    const out = await this.vaeDecoder.run({ [this.vaeDecoder.inputNames[0]!]: input });
    const t = out.sample ?? out[this.vaeDecoder.outputNames[0]!]!;
    return planarToRgb(t.data as Float32Array, width, height);
  }
}

function scale(data: Float32Array, by: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let k = 0; k < data.length; k++) out[k] = data[k]! * by;
  return out;
}

/** Inside the mask the denoised latents, outside the original's (noised to the same level), per latent cell across channels. */
function blend(latents: Float32Array, original: Float32Array, mask: Float32Array, plane: number): Float32Array {
  const out = new Float32Array(latents.length);
  for (let k = 0; k < latents.length; k++) {
    const m = mask[k % plane]!;
    out[k] = m * latents[k]! + (1 - m) * original[k]!;
  }
  return out;
}
