/**
 * Final steps every embedding backend shares: shorten (Matryoshka), L2-normalize, and encode as
 * base64 little-endian float32, the form task results carry and OpenAI's `base64` format sends.
 */

/** Shortens to `dimensions` and L2-normalizes; a shortened vector is always re-normalized. */
export function finishEmbedding(vec: Float32Array, dimensions: number | undefined, normalize: boolean): Float32Array {
  const out = dimensions === undefined ? vec : vec.slice(0, dimensions);
  if (!normalize && dimensions === undefined) return out;
  let sum = 0;
  for (const v of out) sum += v * v;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

/** Little-endian float32 bytes, base64 (the byte order OpenAI's clients decode). */
export function float32ToBase64(vec: ArrayLike<number>): string {
  const bytes = Buffer.alloc(vec.length * 4);
  for (let i = 0; i < vec.length; i++) bytes.writeFloatLE(vec[i], i * 4);
  return bytes.toString('base64');
}
