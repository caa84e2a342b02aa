/**
 * Cross-encoder rerankers: each (query, document) pair is scored together. A single-logit model's
 * score is its sigmoid (as sentence-transformers' CrossEncoder reports it); a two-class model's is
 * the probability of the last (relevant) class.
 */
import { BatchedEncoder } from './batched-encoder';
import { logitRows, sigmoid, softmax } from './classifier.model-type';
import { wrongKind, type ModelType } from './model-type';

export const rerankerModelType: ModelType = {
  async load(descriptor, ctx) {
    const encoder = await BatchedEncoder.load(descriptor, ctx, { head: 'sequence-classification', output: 'logits', rows: logitRows });
    return {
      contextSize: encoder.contextSize,
      async run(job, hooks) {
        if (job.kind !== 'rerank') throw wrongKind(job, 'reranker');
        const sequences = job.documents.map((doc, i) => encoder.encode(job.query, `documents[${i}]`, job.truncate, doc));
        hooks.joined();
        const rows = await encoder.infer(sequences);
        return {
          kind: 'rerank',
          scores: rows.map((logits) => (logits.length === 1 ? sigmoid(logits[0]) : softmax(logits)[logits.length - 1])),
          promptTokens: sequences.reduce((n, s) => n + s.ids.length, 0),
        };
      },
      poke: () => encoder.poke(),
      stats: () => ({ ...encoder.stats }),
      dispose: () => encoder.dispose(),
    };
  },
};
