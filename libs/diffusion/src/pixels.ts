/**
 * Conversions between the pipeline's tensors and plain images: RGB bytes (interleaved, as sharp
 * reads and writes them) to and from the VAE's planar [3, H, W] floats in [-1, 1], and an edit
 * mask to the latents' resolution.
 */

/** An 8-bit RGB image, pixels interleaved row by row. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** RGB bytes to the VAE encoder's input: planar channels scaled to [-1, 1]. */
export function rgbToPlanar(image: RgbImage): Float32Array {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = data[p * 3 + c]! / 127.5 - 1;
  }
  return out;
}

/** The VAE decoder's output (planar, about [-1, 1]) to RGB bytes, clamped as diffusers does ((x / 2 + 0.5).clamp(0, 1)). */
export function planarToRgb(planar: Float32Array, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = planar[c * plane + p]! / 2 + 0.5;
      data[p * 3 + c] = Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
    }
  }
  return { width, height, data };
}

/**
 * A pixel mask (1: repaint, 0: keep; one byte a pixel, 0-255) to the latents' grid: a latent is
 * repainted when any pixel of its 8x8 block is, so the blend never freezes a latent that the
 * painted region needs.
 */
export function latentMask(mask: Uint8Array, width: number, height: number, scale = 8): Float32Array {
  const lw = Math.floor(width / scale);
  const lh = Math.floor(height / scale);
  const out = new Float32Array(lw * lh);
  for (let y = 0; y < lh; y++) {
    for (let x = 0; x < lw; x++) {
      let paint = 0;
      for (let dy = 0; dy < scale && paint === 0; dy++) {
        const row = (y * scale + dy) * width + x * scale;
        for (let dx = 0; dx < scale; dx++) {
          if (mask[row + dx]! >= 128) {
            paint = 1;
            break;
          }
        }
      }
      out[y * lw + x] = paint;
    }
  }
  return out;
}

/** Pastes the kept pixels (mask below 128) of `original` over `generated`: edits never touch what the mask keeps. */
export function keepUnmasked(generated: RgbImage, original: RgbImage, mask: Uint8Array): RgbImage {
  const data = Uint8Array.from(generated.data);
  for (let p = 0; p < mask.length; p++) {
    if (mask[p]! < 128) {
      data[p * 3] = original.data[p * 3]!;
      data[p * 3 + 1] = original.data[p * 3 + 1]!;
      data[p * 3 + 2] = original.data[p * 3 + 2]!;
    }
  }
  return { width: generated.width, height: generated.height, data };
}
