/**
 * README claims of the onnx endpoints that the main onnx suite does not reach: `normalize: false`,
 * the softmax path of single-label classifiers, the 2048-input limit of /v1/embeddings and the
 * `/v1/reranking` alias. A real onnx worker on generated random-weight BERT models.
 */
import { startStack, tinyOnnxModel, type Stack } from './support/stack';
import { expectOpenAIError } from './support/errors';

jest.setTimeout(180_000);

const norm = (v: number[]): number => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- OpenAI, Jina and error bodies of many shapes
async function post(stack: Stack, path: string, body: object): Promise<{ status: number; json: any }> {
  const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

describe('onnx claims from the README (e2e)', () => {
  let stack: Stack;
  const embedDir = tinyOnnxModel('tiny-embed', { task: 'embeddings', seed: 3 });
  const labels = ['toxic', 'insult', 'threat'];
  const multiDir = tinyOnnxModel('claims-multi-label', { task: 'classifier', seed: 11, labels });
  const singleDir = tinyOnnxModel('claims-single-label', { task: 'classifier', seed: 11, labels, singleLabel: true });
  const rerankDir = tinyOnnxModel('tiny-rerank', { task: 'reranker', seed: 5 });
  // Each label its own OpenAI category, so a category's score is exactly its label's.
  const categories = { toxic: ['harassment'], insult: ['hate'], threat: ['violence'] };

  beforeAll(async () => {
    stack = await startStack({
      models: [],
      workers: 0,
      onnxModels: [
        { name: 'embed', task: 'embeddings', path: embedDir },
        { name: 'embed-raw', task: 'embeddings', path: embedDir, normalize: false },
        { name: 'multi', task: 'classifier', path: multiDir, categories, threshold: 0.5 },
        { name: 'single', task: 'classifier', path: singleDir, categories, threshold: 0.5 },
        { name: 'rerank', task: 'reranker', path: rerankDir },
      ],
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('normalize: false returns the raw pooled vector: the normalized one times its norm', async () => {
    const input = ['hello world', 'the cat'];
    const unit = await post(stack, '/v1/embeddings', { model: 'embed', input });
    const raw = await post(stack, '/v1/embeddings', { model: 'embed-raw', input });
    expect([unit.status, raw.status]).toEqual([200, 200]);
    for (let i = 0; i < input.length; i++) {
      const u = unit.json.data[i].embedding as number[];
      const r = raw.json.data[i].embedding as number[];
      expect(norm(u)).toBeCloseTo(1, 5);
      // A random model's mean-pooled vector is nowhere near unit length.
      expect(Math.abs(norm(r) - 1)).toBeGreaterThan(0.01);
      const n = norm(r);
      r.forEach((x, j) => expect(x / n).toBeCloseTo(u[j], 5));
    }
  });

  it('a single-label classifier uses softmax (its scores sum to 1), a multi-label one sigmoids', async () => {
    const inputs = ['hello world', 'the big red ball', 'once upon a time'];
    const single = await post(stack, '/v1/moderations', { model: 'single', input: inputs });
    const multi = await post(stack, '/v1/moderations', { model: 'multi', input: inputs });
    expect([single.status, multi.status]).toEqual([200, 200]);
    const covered = ['harassment', 'hate', 'violence'];
    const sums = (body: { results: Array<{ category_scores: Record<string, number> }> }): number[] =>
      body.results.map((r) => covered.reduce((a, c) => a + r.category_scores[c], 0));
    for (const s of sums(single.json)) expect(s).toBeCloseTo(1, 5);
    // Three independent sigmoids of the same weights' logits: their sum is not 1.
    for (const s of sums(multi.json)) expect(Math.abs(s - 1)).toBeGreaterThan(1e-3);
    // Same weights, same logits: softmax and sigmoid keep the labels' order.
    for (let i = 0; i < inputs.length; i++) {
      const order = (body: typeof single.json): string[] => [...covered].sort((a, b) => body.results[i].category_scores[b] - body.results[i].category_scores[a]);
      expect(order(single.json)).toEqual(order(multi.json));
    }
  });

  it('takes up to 2048 inputs and refuses 2049 with a 400 on input', async () => {
    const ok = await post(stack, '/v1/embeddings', { model: 'embed', input: Array.from({ length: 2048 }, (_, i) => `cat ${i % 10}`) });
    expect(ok.status).toBe(200);
    expect(ok.json.data).toHaveLength(2048);
    expect(ok.json.data.map((d: { index: number }) => d.index)).toEqual(Array.from({ length: 2048 }, (_, i) => i));
    const tooMany = await post(stack, '/v1/embeddings', { model: 'embed', input: Array.from({ length: 2049 }, () => 'cat') });
    expectOpenAIError(tooMany, 400, 'input');
  });

  it('/v1/reranking answers what /v1/rerank answers', async () => {
    const body = { model: 'rerank', query: 'a cat', documents: ['the cat sat', 'a red ball', 'hello world'] };
    const a = await post(stack, '/v1/rerank', body);
    const b = await post(stack, '/v1/reranking', body);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.json.results).toHaveLength(3);
    expect(b.json.results).toEqual(a.json.results);
  });
});
