/**
 * Image generation on a Stable Diffusion ONNX pipeline (libs/diffusion): text to image, edits
 * (img2img, inpainting with OpenAI's mask) and variations. The pipeline runs on a thread of its
 * own, so this worker's event loop keeps renewing job locks, sending heartbeats and hearing cancels
 * while a UNet step runs. Images of one job are made one after another (seed, seed + 1, ...), each
 * sent as its own event once encoded, its previews before it; jobs take turns in arrival order.
 */
import type { ImageJobData, ImageResult, OnnxModelDescriptor, TaskJobData } from '@switchyard/contracts';
import {
  AbortedError,
  decodeImage,
  decodeMask,
  encodeImage,
  ImageInputError,
  inspectImage,
  startDiffusionRunner,
  type DiffusionRunner,
  type ImageInit,
  type RgbImage,
  type SchedulerName,
} from '@switchyard/diffusion';
import { Rejection } from '@switchyard/runtime';
import { wrongKind, type JobHooks, type ModelType, type ServedModel } from './model-type';

/** The init image and mask of an edit or variation, decoded at the output size. */
async function initImage(job: ImageJobData, strength: number): Promise<ImageInit | undefined> {
  if (job.mode === 'generate') return undefined;
  if (!job.image) throw Rejection.badRequest('An image is required for edits and variations.', 'image', 'missing_image');
  const bytes = Buffer.from(job.image, 'base64');
  // The gateway checked these; a job queued by another client is checked again here.
  const info = await inspectImage(bytes, 'image');
  const image = await decodeImage(bytes, job.width, job.height);
  if (job.mode === 'variation') return { image, strength };
  let mask: Uint8Array | undefined;
  if (job.mask) {
    const maskBytes = Buffer.from(job.mask, 'base64');
    const m = await inspectImage(maskBytes, 'mask');
    if (m.width !== info.width || m.height !== info.height) {
      throw new ImageInputError(`The mask is ${m.width}x${m.height} and the image ${info.width}x${info.height}; they must be the same size.`, 'mask', 'mask_size_mismatch');
    }
    if (!m.hasAlpha) throw new ImageInputError('The mask has no alpha channel; its transparent pixels mark where to edit.', 'mask', 'invalid_mask');
    mask = await decodeMask(maskBytes, job.width, job.height);
  } else if (info.hasAlpha) {
    // DALL-E 2's rule: without a mask, the image's own transparent pixels are the mask.
    mask = await decodeMask(bytes, job.width, job.height);
  }
  return mask ? { image, mask, strength } : { image, strength };
}

class ServedPipeline implements ServedModel {
  readonly contextSize = 77;
  private runs = 0;
  private largest = 0;

  constructor(
    private readonly descriptor: OnnxModelDescriptor,
    private readonly runner: DiffusionRunner,
  ) {}

  async run(job: TaskJobData, hooks: JobHooks): Promise<ImageResult> {
    if (job.kind !== 'image') throw wrongKind(job, 'image-generation');
    const j = job;
    hooks.joined();
    if (j.mode !== 'generate' && !this.runner.canEdit) {
      throw Rejection.badRequest(`The model '${this.descriptor.name}' has no vae_encoder, so it cannot edit images or make variations.`, 'model', 'model_not_supported');
    }
    let init: ImageInit | undefined;
    try {
      init = await initImage(j, j.strength);
    } catch (err) {
      if (err instanceof ImageInputError) throw Rejection.badRequest(err.message, err.param, err.code);
      throw err;
    }
    let steps = 0;
    let scheduler = '';
    let inputTokens = 0;
    for (let index = 0; index < j.n; index++) {
      const seed = (j.seed + index) >>> 0;
      // Previews encode while the next steps run; each is sent before the image it previews.
      let sending = Promise.resolve();
      const send = (image: RgbImage, extra: { partial: number } | { inputTokens: number }): void => {
        sending = sending.then(async () => {
          const bytes = await encodeImage(image, j.format, j.compression, j.background);
          hooks.image({ index, b64: bytes.toString('base64'), seed, ...extra });
        });
      };
      try {
        const out = await this.runner.generate(
          {
            prompt: j.prompt,
            ...(j.negativePrompt !== undefined ? { negativePrompt: j.negativePrompt } : {}),
            width: j.width,
            height: j.height,
            steps: j.steps,
            guidanceScale: j.guidanceScale,
            seed,
            ...(j.scheduler !== undefined ? { scheduler: j.scheduler as SchedulerName } : {}),
            ...(init ? { init } : {}),
            previews: j.partialImages,
          },
          {
            step: (k, n) => hooks.progress({ step: index * n + k, steps: j.n * n }),
            preview: (image, partial) => send(image, { partial }),
            signal: hooks.signal,
          },
        );
        steps = out.steps;
        scheduler = out.scheduler;
        inputTokens = out.promptTokens;
        send(out.image, { inputTokens: out.promptTokens });
        await sending;
      } catch (err) {
        if (err instanceof AbortedError) hooks.signal.throwIfAborted();
        throw err;
      }
      this.runs++;
    }
    this.largest = Math.max(this.largest, j.n);
    return { kind: 'image', count: j.n, width: j.width, height: j.height, format: j.format, steps, scheduler, inputTokens };
  }

  poke(): void {}

  stats(): { runs: number; items: number; largest: number } {
    return { runs: this.runs, items: this.runs, largest: this.largest };
  }

  dispose(): Promise<void> {
    return this.runner.dispose();
  }
}

export const imageGenerationModelType: ModelType = {
  async load(descriptor, ctx) {
    const options = descriptor.image;
    if (!options) throw new Error(`the image-generation model ${descriptor.name} has no image options`);
    const runner = await startDiffusionRunner(descriptor.path, {
      threads: descriptor.threads,
      device: ctx.device,
      ...(options.scheduler !== undefined ? { scheduler: options.scheduler as SchedulerName } : {}),
    });
    return new ServedPipeline(descriptor, runner);
  },
};
