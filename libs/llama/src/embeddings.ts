/**
 * Embeddings of GGUF embedding models (`embedding: true` in the models file) through node-llama-cpp's
 * embedding context, so /v1/embeddings serves GGUF and ONNX models alike. llama.cpp pools as the
 * model says; the vector is then L2-normalized. One input is evaluated at a time.
 */
import type { EmbeddingsJobData, EmbeddingsResult } from '@switchyard/contracts';
import { finishEmbedding, float32ToBase64 } from '@switchyard/runtime';
import { GenerationRejected } from './generation-errors';
import type { LlamaEmbeddingContext, LlamaModel, Token } from './node-llama-cpp';

export async function runEmbeddings(
  context: LlamaEmbeddingContext,
  model: LlamaModel,
  contextSize: number,
  /** Tokens in the model's vocabulary (counted once at load by the engine). */
  vocabularySize: number,
  job: EmbeddingsJobData,
): Promise<EmbeddingsResult> {
  if (job.dimensions !== undefined) {
    throw new GenerationRejected(`The model '${job.model}' does not support specifying dimensions.`, 'unsupported_parameter', 'dimensions');
  }
  const param = (i: number): string => (job.inputs.length === 1 ? 'input' : `input[${i}]`);
  // Token ids are checked against the vocabulary; the context adds BOS/EOS as the model wants them.
  const tokenized = job.inputs.map((input, i) => {
    if (typeof input === 'string') return model.tokenize(input);
    const bad = input.findIndex((t) => t >= vocabularySize);
    if (bad >= 0) {
      throw new GenerationRejected(`Invalid token id ${input[bad]} in '${param(i)}': this model's vocabulary has ${vocabularySize} tokens.`, 'invalid_token_id', param(i));
    }
    return [...input] as Token[];
  });
  // node-llama-cpp needs the input (with BOS/EOS) to be shorter than the context.
  const limit = contextSize - 1;
  const inputs = tokenized.map((tokens, i) => {
    const length = context.calculateInputLength([...tokens]);
    if (length <= limit) return tokens;
    if (!job.truncate) {
      throw new GenerationRejected(
        `'${param(i)}' has ${length} tokens; this model's maximum input length is ${limit} tokens. Shorten the input or set "truncate": true.`,
        'context_length_exceeded',
        param(i),
      );
    }
    return tokens.slice(0, tokens.length - (length - limit));
  });
  const vectors: string[] = [];
  let promptTokens = 0;
  for (const tokens of inputs) {
    promptTokens += context.calculateInputLength([...tokens]);
    const { vector } = await context.getEmbeddingFor([...tokens]);
    vectors.push(float32ToBase64(finishEmbedding(Float32Array.from(vector), undefined, true)));
  }
  return { kind: 'embeddings', vectors, promptTokens };
}

