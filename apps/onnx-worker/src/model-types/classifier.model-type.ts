/**
 * Text classifiers (e.g. toxicity models behind /v1/moderations): one score per label, sigmoid for
 * multi-label models (config problem_type) and softmax otherwise, keyed by the model's label names.
 */
import { BatchedEncoder } from './batched-encoder';
import { wrongKind, type ModelType } from './model-type';
import type { Tensor } from '../transformers';

export const classifierModelType: ModelType = {
  async load(descriptor, ctx) {
    const encoder = await BatchedEncoder.load(descriptor, ctx, { head: 'sequence-classification', output: 'logits', rows: logitRows });
    const config = encoder.model.config as unknown as { id2label?: Record<string, string>; problem_type?: string };
    const multiLabel = config.problem_type === 'multi_label_classification';
    return {
      contextSize: encoder.contextSize,
      async run(job, hooks) {
        if (job.kind !== 'classify') throw wrongKind(job, 'classifier');
        const param = (i: number): string => (job.inputs.length === 1 ? 'input' : `input[${i}]`);
        const sequences = job.inputs.map((text, i) => encoder.encode(text, param(i), job.truncate));
        hooks.joined();
        const rows = await encoder.infer(sequences);
        return {
          kind: 'classify',
          scores: rows.map((logits) => {
            const probs = multiLabel ? Array.from(logits, sigmoid) : softmax(logits);
            return Object.fromEntries(probs.map((p, i) => [config.id2label?.[String(i)] ?? `LABEL_${i}`, p]));
          }),
          promptTokens: sequences.reduce((n, s) => n + s.ids.length, 0),
        };
      },
      poke: () => encoder.poke(),
      stats: () => ({ ...encoder.stats }),
      dispose: () => encoder.dispose(),
    };
  },
};

/** [batch, labels] → one row of logits per sequence. */
export function logitRows(output: Tensor): Float32Array[] {
  const [batch, labels] = output.dims;
  const data = output.data as Float32Array;
  return Array.from({ length: batch }, (_, row) => data.slice(row * labels, (row + 1) * labels));
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function softmax(logits: ArrayLike<number>): number[] {
  const values = Array.from(logits);
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
