/**
 * Image files in and out, on sharp (libvips): checks an upload is a PNG, JPEG or WebP within the
 * limits and reads its size (the gateway's 400s), decodes it to the pipeline's RGB at the output
 * size, turns an OpenAI mask (transparent = edit here) into repaint bytes, and encodes results as
 * png, jpeg or webp.
 */
import sharp from 'sharp';
import type { ImageBackground, ImageOutputFormat } from '@switchyard/contracts';
import type { RgbImage } from './pixels';

export type UploadFormat = 'png' | 'jpeg' | 'webp';

export interface UploadInfo {
  format: UploadFormat;
  width: number;
  height: number;
  hasAlpha: boolean;
}

/** An upload that is not an image this accepts; `param` names the form field. */
export class ImageInputError extends Error {
  constructor(
    message: string,
    readonly param: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const ACCEPTED: readonly string[] = ['png', 'jpeg', 'webp'];
/** libvips refuses to decode images above this many pixels unless told otherwise: a decompression-bomb guard. */
const MAX_INPUT_PIXELS = 64 * 1024 * 1024;

/** Reads an upload's header (no full decode): its format, size and whether it has alpha. */
export async function inspectImage(bytes: Buffer, param: string): Promise<UploadInfo> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch {
    throw new ImageInputError(`The '${param}' upload is not an image (PNG, JPEG or WebP).`, param, 'invalid_image_format');
  }
  if (!meta.format || !ACCEPTED.includes(meta.format) || !meta.width || !meta.height) {
    throw new ImageInputError(`The '${param}' upload is ${meta.format ?? 'not an image'}; send a PNG, JPEG or WebP.`, param, 'invalid_image_format');
  }
  if (meta.width * meta.height > MAX_INPUT_PIXELS) {
    throw new ImageInputError(`The '${param}' image is ${meta.width}x${meta.height}, over ${MAX_INPUT_PIXELS} pixels.`, param, 'image_too_large');
  }
  return { format: meta.format as UploadFormat, width: meta.width, height: meta.height, hasAlpha: meta.hasAlpha === true };
}

/** The upload as RGB at the output size (cropped to its aspect from the centre, as `cover` fits). */
export async function decodeImage(bytes: Buffer, width: number, height: number): Promise<RgbImage> {
  const { data, info } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS })
    .rotate()
    .resize(width, height, { fit: 'cover' })
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/**
 * The repaint mask of an image with alpha, at the output size: 255 where it is transparent (alpha
 * below half: OpenAI's "transparent areas are edited"), 0 where it is kept. Undefined when nothing is
 * transparent (then there is nothing to paint and nothing to keep: the whole image is redrawn).
 */
export async function decodeMask(bytes: Buffer, width: number, height: number): Promise<Uint8Array | undefined> {
  const { data } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS })
    .rotate()
    .resize(width, height, { fit: 'cover', kernel: 'nearest' })
    .ensureAlpha()
    .extractChannel(3)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const mask = new Uint8Array(data.length);
  let painted = 0;
  for (let p = 0; p < data.length; p++) {
    if (data[p]! < 128) {
      mask[p] = 255;
      painted++;
    }
  }
  return painted === 0 ? undefined : mask;
}

/**
 * Encodes a result. `compression` is OpenAI's output_compression (0-100) for jpeg and webp (their
 * quality); png stays lossless. A transparent background gives png and webp an alpha channel (the
 * pipeline paints every pixel, so it is opaque).
 */
export async function encodeImage(image: RgbImage, format: ImageOutputFormat, compression: number, background: ImageBackground): Promise<Buffer> {
  let pipe = sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length), { raw: { width: image.width, height: image.height, channels: 3 } });
  if (background === 'transparent' && format !== 'jpeg') pipe = pipe.ensureAlpha(1);
  switch (format) {
    case 'png':
      return pipe.png({ compressionLevel: 6 }).toBuffer();
    case 'jpeg':
      return pipe.jpeg({ quality: Math.max(1, compression), mozjpeg: false }).toBuffer();
    case 'webp':
      return pipe.webp({ quality: Math.max(1, compression) }).toBuffer();
  }
}

/** OpenAI's Content-Type of each output format. */
export function imageContentType(format: ImageOutputFormat): string {
  return `image/${format}`;
}
