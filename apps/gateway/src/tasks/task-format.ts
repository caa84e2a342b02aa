/**
 * OpenAI's (and Jina/Cohere's) response shapes for task results: embeddings, moderations, rerank.
 * Workers send backend-neutral results; the wire format lives here alone.
 */
import { randomBytes } from 'node:crypto';
import type OpenAI from 'openai';
import type { ClassifyResult, EmbeddingsResult, OnnxModelDescriptor, RerankResult } from '@switchyard/contracts';
import { OPENAI_MODERATION_CATEGORIES } from '@switchyard/runtime';

/** Base64 little-endian float32 → numbers (the values float32 holds, exactly). */
export function decodeFloat32(base64: string): number[] {
  const bytes = Buffer.from(base64, 'base64');
  const out = new Array<number>(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** OpenAI's embeddings response; with `encoding_format: base64` each embedding is the base64 string (the SDK decodes it). */
export type EmbeddingsResponse = Omit<OpenAI.CreateEmbeddingResponse, 'data'> & { data: Array<Omit<OpenAI.Embedding, 'embedding'> & { embedding: number[] | string }> };

export function embeddingsResponse(model: string, result: EmbeddingsResult, format: 'float' | 'base64'): EmbeddingsResponse {
  return {
    object: 'list',
    data: result.vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: format === 'base64' ? vector : decodeFloat32(vector),
    })),
    model,
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}

/**
 * One moderation result per input. A category's score is the highest score among the model labels
 * mapped to it (0 when none is); it is flagged at the model's threshold. Categories the model does
 * not cover report no applied input types.
 */
export function moderationResponse(model: OnnxModelDescriptor, result: ClassifyResult): object {
  const covers = new Set(Object.values(model.categories).flat());
  return {
    id: `modr-${randomBytes(12).toString('hex')}`,
    model: model.name,
    results: result.scores.map((labels) => {
      const scores: Record<string, number> = Object.fromEntries(OPENAI_MODERATION_CATEGORIES.map((c) => [c, 0]));
      for (const [label, score] of Object.entries(labels)) {
        for (const category of model.categories[label] ?? []) scores[category] = Math.max(scores[category], score);
      }
      const categories = Object.fromEntries(OPENAI_MODERATION_CATEGORIES.map((c) => [c, covers.has(c) && scores[c] >= model.threshold]));
      return {
        flagged: Object.values(categories).some(Boolean),
        categories,
        category_scores: scores,
        category_applied_input_types: Object.fromEntries(OPENAI_MODERATION_CATEGORIES.map((c) => [c, covers.has(c) ? ['text'] : []])),
      };
    }),
  };
}

/**
 * Results best first, cut to `top_n`, in the shape llama.cpp's server, Jina and Cohere clients read:
 * `results[{index, relevance_score, document?: {text}}]`, with `usage` and Cohere's `meta`.
 */
export function rerankResponse(
  model: string,
  result: RerankResult,
  documents: string[],
  options: { topN?: number; returnDocuments: boolean },
): object {
  const ranked = result.scores
    .map((relevance_score, index) => ({ index, relevance_score }))
    .sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index)
    .slice(0, options.topN ?? documents.length);
  return {
    id: `rerank-${randomBytes(12).toString('hex')}`,
    object: 'list',
    model,
    results: ranked.map((r) => (options.returnDocuments ? { ...r, document: { text: documents[r.index] } } : r)),
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    meta: { billed_units: { search_units: 1 } },
  };
}
