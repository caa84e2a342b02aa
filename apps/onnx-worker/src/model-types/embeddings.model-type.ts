/**
 * Embedding models (sentence-transformers style encoders): token vectors pooled into one vector per
 * input (mean over real tokens, or the [CLS] position), optionally shortened to `dimensions`, and
 * L2-normalized. Vectors travel as base64 little-endian float32, OpenAI's `base64` format.
 */
import type { EmbeddingPooling, OnnxModelDescriptor } from '@switchyard/contracts';
import { finishEmbedding, float32ToBase64 } from '@switchyard/runtime';
import { BatchedEncoder, type Sequence } from './batched-encoder';
import { Rejection } from '@switchyard/runtime';
import { wrongKind, type ModelType } from './model-type';
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
          vectors: rows.map((row) => float32ToBase64(finishEmbedding(row, job.dimensions, descriptor.normalize))),
          promptTokens: sequences.reduce((n, s) => n + s.ids.length, 0),
        };
      },
      poke: () => encoder.poke(),
      stats: () => ({ ...encoder.stats }),
      dispose: () => encoder.dispose(),
    };
  },
};

function checkDimensions(d: OnnxModelDescriptor, dimensions: number | undefined, hidden: number | undefined): void {
  if (dimensions === undefined) return;
  if (!d.matryoshka) {
    throw Rejection.badRequest(`The model '${d.name}' does not support specifying dimensions.`, 'dimensions', 'unsupported_parameter');
  }
  if (hidden !== undefined && dimensions > hidden) {
    throw Rejection.badRequest(`'dimensions' must be at most ${hidden} for the model '${d.name}'.`, 'dimensions', 'invalid_value');
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
