/**
 * A checked image request as a job: the size against the model's sizes, quality as the model's
 * step counts, OpenAI's defaults (n 1, png, b64_json for gpt-image and url for dall-e names), a
 * seed drawn when none is given (so a rerun of the job makes the same images), and the uploads of
 * an edit checked with sharp (format, pixels, mask size and alpha) before anything is queued.
 */
import { randomInt } from 'node:crypto';
import type { ImageJobData, ImageMode, ImageOptions, ImageQuality, OnnxModelDescriptor } from '@switchyard/contracts';
import { ImageInputError, inspectImage } from '@switchyard/diffusion';
import { OpenAIError } from '../core/openai-error';
import type { CreateImageDto } from './create-image.dto';

/** One uploaded file (multer's memory storage). */
export interface UploadedImage {
  fieldname: string;
  originalname: string;
  size: number;
  buffer: Buffer;
}

export interface ImageRequest {
  job: ImageJobData;
  quality: ImageQuality;
  /** What the request asked for (auto stays auto in stream events). */
  sizeLabel: string;
  responseFormat: 'url' | 'b64_json';
  stream: boolean;
}

function imageOptions(model: OnnxModelDescriptor): ImageOptions {
  if (!model.image) throw new Error(`the image-generation model ${model.name} has no image options`);
  return model.image;
}

/** WxH within the model's sides and multiple; `auto` or none is the model's default size. */
export function parseSize(size: string | null | undefined, options: ImageOptions): { width: number; height: number } {
  if (size === undefined || size === null || size === 'auto') return options.defaultSize;
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(size);
  const { minSide, maxSide, sizeMultiple } = options;
  const allowed = `WIDTHxHEIGHT, each a multiple of ${sizeMultiple} from ${minSide} to ${maxSide} (e.g. 1024x1024), or auto`;
  if (!m) throw OpenAIError.badRequest(`Invalid 'size': '${size.slice(0, 40)}' is not ${allowed}.`, 'size', 'invalid_size');
  const width = Number(m[1]);
  const height = Number(m[2]);
  for (const side of [width, height]) {
    if (side % sizeMultiple !== 0 || side < minSide || side > maxSide) {
      throw OpenAIError.badRequest(`Invalid 'size': ${width}x${height} is not supported by this model; use ${allowed}.`, 'size', 'invalid_size');
    }
  }
  return { width, height };
}

function quality(q: CreateImageDto['quality']): ImageQuality {
  switch (q) {
    case 'low':
    case 'high':
    case 'medium':
      return q;
    case 'hd':
      return 'high';
    case 'auto':
    case 'standard':
    case null:
    case undefined:
      return 'medium';
  }
}

/** The job and response settings of a checked body; `requested` is the model name the client used. */
export function imageRequest(dto: CreateImageDto, model: OnnxModelDescriptor, mode: ImageMode, requested: string): ImageRequest {
  const options = imageOptions(model);
  const prompt = dto.prompt ?? '';
  if (mode !== 'variation' && prompt.trim().length === 0) {
    throw OpenAIError.badRequest("The prompt is empty; say what the image should show in 'prompt'.", 'prompt', 'empty_prompt');
  }
  const { width, height } = parseSize(dto.size, options);
  const q = quality(dto.quality);
  const steps = dto.steps ?? options.qualitySteps[q];
  if (steps > options.maxSteps) throw OpenAIError.badRequest(`Invalid 'steps': ${steps} is above this model's limit of ${options.maxSteps}.`, 'steps', 'invalid_value');
  const format = dto.output_format ?? 'png';
  const background = dto.background ?? 'auto';
  if (background === 'transparent' && format === 'jpeg') {
    throw OpenAIError.badRequest("A transparent background needs output_format png or webp (jpeg has no alpha).", 'background', 'invalid_value');
  }
  const stream = dto.stream === true;
  if (!stream && dto.partial_images !== undefined && dto.partial_images !== null && dto.partial_images > 0) {
    throw OpenAIError.badRequest("partial_images needs 'stream': true.", 'partial_images', 'invalid_value');
  }
  const job: ImageJobData = {
    kind: 'image',
    model: model.name,
    enqueuedAt: Date.now(),
    mode,
    prompt,
    ...(dto.negative_prompt ? { negativePrompt: dto.negative_prompt } : {}),
    n: dto.n ?? 1,
    width,
    height,
    steps,
    guidanceScale: dto.guidance_scale ?? options.guidanceScale,
    seed: dto.seed ?? randomInt(0, 2 ** 32),
    ...(dto.scheduler ? { scheduler: dto.scheduler } : {}),
    strength: dto.strength ?? options.strength,
    format,
    compression: dto.output_compression ?? 100,
    background,
    partialImages: stream ? (dto.partial_images ?? 0) : 0,
  };
  // gpt-image answers in base64 only; dall-e's default is a URL.
  const responseFormat = dto.response_format ?? (requested.startsWith('dall-e') ? 'url' : 'b64_json');
  return { job, quality: q, sizeLabel: dto.size && dto.size !== 'auto' ? `${width}x${height}` : 'auto', responseFormat, stream };
}

/**
 * Adds an edit's or a variation's uploads to the job, after sharp has read their headers: PNG, JPEG
 * or WebP only, and a mask of the image's own size with an alpha channel.
 */
export async function attachUploads(job: ImageJobData, images: UploadedImage[], mask: UploadedImage | undefined): Promise<void> {
  const first = images[0];
  if (!first) throw OpenAIError.badRequest("Send the image to edit in the 'image' part.", 'image', 'missing_image');
  try {
    const info = await inspectImage(first.buffer, 'image');
    if (mask) {
      const m = await inspectImage(mask.buffer, 'mask');
      if (m.width !== info.width || m.height !== info.height) {
        throw new ImageInputError(`The mask is ${m.width}x${m.height} and the image ${info.width}x${info.height}; they must be the same size.`, 'mask', 'mask_size_mismatch');
      }
      if (!m.hasAlpha) throw new ImageInputError('The mask has no alpha channel; make the pixels to edit transparent.', 'mask', 'invalid_mask');
    }
    // Only the first image is the init image (img2img starts from one); the rest are checked, not used.
    for (const other of images.slice(1)) await inspectImage(other.buffer, 'image');
  } catch (err) {
    if (err instanceof ImageInputError) throw OpenAIError.badRequest(err.message, err.param, err.code);
    throw err;
  }
  job.image = first.buffer.toString('base64');
  if (mask) job.mask = mask.buffer.toString('base64');
}
