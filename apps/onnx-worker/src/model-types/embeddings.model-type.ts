/**
 * Embedding models (sentence-transformers style encoders): token vectors pooled into one vector per
 * input (mean over real tokens, or the [CLS] position), optionally shortened to `dimensions`, and
 * L2-normalized. Vectors travel as base64 little-endian float32, OpenAI's `base64` format.
 */
import type { EmbeddingPooling, OnnxModelDescriptor } from '@switchyard/contracts';
import { BatchedEncoder, type Sequence } from './batched-encoder';
import { TaskRejected, wrongKind, type ModelType } from './model-type';
import type { Tensor } from '../transformers';

export const embeddingsModelType: ModelType = {
  async load(descriptor, ctx) {
    const encoder = await BatchedEncoder.load(descriptor, ctx, {
      head: 'none',
      output: 'last_hidden_state',
      rows: (output, batch) => pool(output, batch, descriptor.pooling),
    });
    const hidden = (encoder.model.config as unknown as { hidden_size?: number }).hidden_size;
    return {
      contextSize: encoder.contextSize,
      async run(job, hooks) {
        if (job.kind !== 'embeddings') throw wrongKind(job, 'embeddings');
        checkDimensions(descriptor, job.dimensions, hidden);
        const param = (i: number): string => (job.inputs.length === 1 ? 'input' : `input[${i}]`);
        const sequences = job.inputs.map((input, i) =>
          typeof input === 'string' ? encoder.encode(input, param(i), job.truncate) : encoder.fromTokens(input, param(i), job.truncate),
        );
        hooks.joined();
        const rows = await encoder.infer(sequences);
        return {
          kind: 'embeddings',
          vectors: rows.map((row) => toBase64(finish(row, job.dimensions, descriptor.normalize))),
          promptTokens: sequences.reduce((n, s) => n + s.ids.length, 0),
        };
      },
      poke: () => encoder.poke(),
      dispose: () => encoder.dispose(),
    };
  },
};

function checkDimensions(d: OnnxModelDescriptor, dimensions: number | undefined, hidden: number | undefined): void {
  if (dimensions === undefined) return;
  if (!d.matryoshka) {
    throw new TaskRejected(`The model '${d.name}' does not support specifying dimensions.`, 'dimensions', 'unsupported_parameter');
  }
  if (hidden !== undefined && dimensions > hidden) {
    throw new TaskRejected(`'dimensions' must be at most ${hidden} for the model '${d.name}'.`, 'dimensions', 'invalid_value');
  }
}

/** [batch, tokens, hidden] → one vector per sequence, over its real (unpadded) tokens. */
export function pool(output: Tensor, batch: Sequence[], pooling: EmbeddingPooling): Float32Array[] {
  const [, width, hidden] = output.dims;
  const data = output.data as Float32Array;
  return batch.map((s, row) => {
    const vec = new Float32Array(hidden);
    const base = row * width * hidden;
    const count = pooling === 'cls' ? 1 : s.ids.length;
    for (let t = 0; t < count; t++) {
      const at = base + t * hidden;
      for (let h = 0; h < hidden; h++) vec[h] += data[at + h];
    }
    for (let h = 0; h < hidden; h++) vec[h] /= count;
    return vec;
  });
}

/** Shortens (Matryoshka) and L2-normalizes; a shortened vector is always re-normalized. */
export function finish(vec: Float32Array, dimensions: number | undefined, normalize: boolean): Float32Array {
  const out = dimensions === undefined ? vec : vec.slice(0, dimensions);
  if (!normalize && dimensions === undefined) return out;
  let sum = 0;
  for (const v of out) sum += v * v;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

/** Little-endian float32 bytes, base64 (the byte order OpenAI's clients decode). */
export function toBase64(vec: Float32Array): string {
  const bytes = Buffer.alloc(vec.length * 4);
  for (let i = 0; i < vec.length; i++) bytes.writeFloatLE(vec[i], i * 4);
  return bytes.toString('base64');
}
