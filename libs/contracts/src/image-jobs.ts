/**
 * Image generation: the job the gateway queues for /v1/images/generations, /edits and /variations,
 * the image model's options from the models file, and the worker's answer. The worker sends each
 * finished (and each partial) image as its own event, so no single event holds all n images; the
 * gateway alone shapes them into OpenAI's ImagesResponse or its image_generation.* SSE events.
 */

export type ImageOutputFormat = 'png' | 'jpeg' | 'webp';
export type ImageQuality = 'low' | 'medium' | 'high';
export type ImageBackground = 'transparent' | 'opaque' | 'auto';

/** generate: text to image; edit: img2img with an optional mask (inpainting); variation: img2img from the image alone. */
export type ImageMode = 'generate' | 'edit' | 'variation';

export interface ImageJobData {
  kind: 'image';
  model: string;
  enqueuedAt: number;
  mode: ImageMode;
  /** Empty for variations (the image alone steers them). */
  prompt: string;
  negativePrompt?: string;
  /** Images to make (1-10), one after another; image i uses seed + i. */
  n: number;
  width: number;
  height: number;
  steps: number;
  /** Classifier-free guidance; at 1 or below the unconditional pass is skipped (turbo models). */
  guidanceScale: number;
  /** Always set (the gateway draws one when the request has none), so a rerun makes the same images. */
  seed: number;
  /** A scheduler name (euler, euler_a, ddim, pndm, lcm); absent: the model's own. */
  scheduler?: string;
  /** edit/variation: how far from the input the result may go (0-1; 1 ignores it). */
  strength: number;
  format: ImageOutputFormat;
  /** jpeg/webp quality, 0-100. */
  compression: number;
  background: ImageBackground;
  /** Previews decoded from intermediate latents before each image (0-3). */
  partialImages: number;
  /** edit/variation: the uploaded image, base64, as sent (the worker decodes it). */
  image?: string;
  /** edit: PNG whose transparent pixels mark where to paint, base64. */
  mask?: string;
}

/** One image the worker made: a finished one, or a preview (`partial` set, 0-based) of the image at `index`. */
export interface ImageDelta {
  index: number;
  /** The encoded image in the job's format, base64. */
  b64: string;
  partial?: number;
  seed: number;
  /** Finished images: the prompt's tokens (usage of the completed event, sent before the result). */
  inputTokens?: number;
}

/** Denoising progress of a job: step k of n, over all its images. */
export interface ImageProgress {
  step: number;
  steps: number;
}

export interface ImageResult {
  kind: 'image';
  /** Images sent (as `image` deltas, in index order). */
  count: number;
  width: number;
  height: number;
  format: ImageOutputFormat;
  /** UNet steps run per image, and the scheduler used. */
  steps: number;
  scheduler: string;
  /** The prompt's tokens (usage: input_tokens; the gateway counts output tokens from size and quality). */
  inputTokens: number;
}

/**
 * image-generation: what the models file says about one pipeline. Sizes are multiples of
 * sizeMultiple from minSide to maxSide; `auto` and an absent size mean defaultSize.
 */
export interface ImageOptions {
  defaultSize: { width: number; height: number };
  minSide: number;
  maxSide: number;
  /** Widths and heights are multiples of this (8 at least; a real SD UNet's three downsamplings need 64). */
  sizeMultiple: number;
  /** Steps for `quality` (auto = medium); `steps` overrides them up to maxSteps. */
  qualitySteps: Record<ImageQuality, number>;
  maxSteps: number;
  guidanceScale: number;
  /** A scheduler other than the one in scheduler/scheduler_config.json. */
  scheduler?: string;
  /** edits and variations: the default strength. */
  strength: number;
}

/**
 * gpt-image-1's output tokens for one image at `quality`, from OpenAI's published table (1024x1024:
 * 272 low, 1056 medium, 4160 high), scaled by area for other sizes.
 */
export function imageOutputTokens(width: number, height: number, quality: ImageQuality): number {
  const perMegapixel: Record<ImageQuality, number> = { low: 272, medium: 1056, high: 4160 };
  return Math.round((perMegapixel[quality] * width * height) / (1024 * 1024));
}
