import type { OnnxModelDescriptor } from '@switchyard/contracts';
import { decodeFloat32, embeddingsResponse, moderationResponse, rerankResponse } from './task-format';

const b64 = (values: number[]): string => Buffer.from(Float32Array.from(values).buffer).toString('base64');

describe('task-format', () => {
  it('decodes base64 little-endian float32 exactly, and embeds floats or passes base64 through', () => {
    const values = [0.1, -2.5, 3.4028234663852886e38, 0];
    expect(decodeFloat32(b64(values))).toEqual(Array.from(Float32Array.from(values)));
    const result = { kind: 'embeddings' as const, vectors: [b64([1, 2]), b64([3, 4])], promptTokens: 7 };
    expect(embeddingsResponse('m', result, 'float')).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [1, 2] },
        { object: 'embedding', index: 1, embedding: [3, 4] },
      ],
      model: 'm',
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
    expect((embeddingsResponse('m', result, 'base64') as { data: Array<{ embedding: unknown }> }).data[1].embedding).toBe(result.vectors[1]);
  });

  it('maps labels to categories by their highest score, flags at the threshold, and marks only covered categories', () => {
    const model = { name: 'mod', threshold: 0.6, categories: { toxic: ['harassment'], insult: ['harassment'], threat: ['violence'] } } as unknown as OnnxModelDescriptor;
    const res = moderationResponse(model, {
      kind: 'classify',
      scores: [
        { toxic: 0.2, insult: 0.7, threat: 0.1, unmapped: 0.99 },
        { toxic: 0.1, insult: 0.2, threat: 0.6, unmapped: 0.99 },
      ],
      promptTokens: 4,
    }) as { id: string; results: Array<{ flagged: boolean; categories: Record<string, boolean>; category_scores: Record<string, number>; category_applied_input_types: Record<string, string[]> }> };
    expect(res.id).toMatch(/^modr-/);
    const [a, b] = res.results;
    expect(a.category_scores.harassment).toBe(0.7);
    expect(a.categories.harassment).toBe(true);
    expect(a.categories.violence).toBe(false);
    expect(a.flagged).toBe(true);
    expect(a.category_scores.hate).toBe(0);
    expect(a.category_applied_input_types.hate).toEqual([]);
    expect(a.category_applied_input_types.violence).toEqual(['text']);
    expect(Object.keys(a.categories)).toHaveLength(13);
    expect(b.categories.violence).toBe(true); // exactly at the threshold
    expect(b.categories.harassment).toBe(false);
  });

  it('ranks best first (ties by index), cuts to top_n, and adds documents when asked', () => {
    const result = { kind: 'rerank' as const, scores: [0.2, 0.9, 0.5, 0.9], promptTokens: 12 };
    const docs = ['a', 'b', 'c', 'd'];
    const full = rerankResponse('r', result, docs, { returnDocuments: true }) as { results: Array<{ index: number; relevance_score: number; document?: { text: string } }>; usage: object };
    expect(full.results.map((r) => r.index)).toEqual([1, 3, 2, 0]);
    expect(full.results[0].document).toEqual({ text: 'b' });
    expect(full.usage).toEqual({ prompt_tokens: 12, total_tokens: 12 });
    const top = rerankResponse('r', result, docs, { topN: 2, returnDocuments: false }) as { results: object[] };
    expect(top.results).toEqual([
      { index: 1, relevance_score: 0.9 },
      { index: 3, relevance_score: 0.9 },
    ]);
  });
});
