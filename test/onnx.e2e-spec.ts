/**
 * ONNX worker end to end: /v1/embeddings, /v1/moderations and /v1/rerank through the gateway, BullMQ
 * and a real onnx worker (transformers.js on onnxruntime-node) running generated random-weight BERT
 * models. Numbers are checked against onnxruntime run directly in the test on the same model file,
 * and against the same inputs sent alone (so dynamic batching and padding change nothing). That a
 * batch really merged several requests is read from the worker's own counters, which it logs when
 * a model is unloaded (runs, inputs, largest batch).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import OpenAI from 'openai';
import { onnxQueueName, REDIS_PREFIX } from '@switchyard/contracts';
import { generateWordPieceVocab } from '@switchyard/model-gen';
import { waitUntil } from '@switchyard/runtime';
import { runOnnxDirect } from './support/onnx-direct';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { itIf } from './support/skip';
import { SHARED_MODELS, startStack, tinyOnnxModel, waitForWorker, type Stack } from './support/stack';

jest.setTimeout(120_000);

const MINILM_TOKENIZER = join(SHARED_MODELS, 'tokenizers', 'minilm');
const HIDDEN = 32; // the tiny shape's hidden size
const CATEGORIES = {
  toxic: ['harassment'],
  severe_toxic: ['harassment/threatening'],
  obscene: ['sexual'],
  threat: ['violence', 'harassment/threatening'],
  insult: ['harassment'],
  identity_hate: ['hate'],
};

const norm = (v: number[]): number => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

function expectClose(a: number[], b: number[], tolerance = 1e-5): void {
  expect(a.length).toBe(b.length);
  const worst = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
  expect(worst).toBeLessThan(tolerance);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- OpenAI, Jina and error bodies of many shapes
async function post(stack: Stack, path: string, body: object): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

/** The embedding computed without Switchyard: onnxruntime on the model file, mean pooling, L2 norm. */
async function directEmbedding(modelDir: string, ids: number[]): Promise<number[]> {
  const data = (await runOnnxDirect(join(modelDir, 'onnx', 'model.onnx'), ids)).last_hidden_state;
  const hidden = data.length / ids.length;
  const mean = Array.from({ length: hidden }, (_, h) => ids.reduce((a, _t, i) => a + data[i * hidden + h], 0) / ids.length);
  const n = norm(mean);
  return mean.map((x) => x / n);
}

/** The model-run counters an onnx worker logs when it unloads a model (QueueHost's 'model unloaded' line). */
interface RunCounters {
  runs: number;
  inputs: number;
  largestBatch: number;
}

function unloadCounters(logs: string[], model: string): RunCounters[] {
  const found: RunCounters[] = [];
  for (const line of logs.join('').split('\n')) {
    if (!line.includes('"model unloaded"')) continue;
    let entry: { c?: string } & Partial<RunCounters>;
    try {
      entry = JSON.parse(line.slice(line.indexOf('{'))) as typeof entry;
    } catch {
      continue; // not one of the worker's JSON lines
    }
    if (entry.c === `onnx-worker.${model}` && entry.runs !== undefined) found.push({ runs: entry.runs, inputs: entry.inputs!, largestBatch: entry.largestBatch! });
  }
  return found;
}

/** Unloads an onnx model by the admin API and returns the counters its worker logged for that load. */
async function unloadAndCount(stack: Stack, model: string): Promise<RunCounters> {
  const before = unloadCounters(stack.logs, model).length;
  const res = await post(stack, `/admin/models/${model}/unload`, {});
  expect(res.status).toBe(200);
  await waitUntil(async () => unloadCounters(stack.logs, model).length > before, 30_000, `the 'model unloaded' line of ${model}`, stack.logs);
  return unloadCounters(stack.logs, model)[before];
}

describe('onnx worker: embeddings, moderations, rerank (e2e)', () => {
  let stack: Stack;
  let client: OpenAI;
  const vocab = generateWordPieceVocab();
  const id = (t: string): number => vocab.ids.get(t)!;
  const embedDir = tinyOnnxModel('tiny-embed', { task: 'embeddings', seed: 3 });
  const classifierDir = tinyOnnxModel('tiny-moderation', { task: 'classifier', seed: 4 });
  const rerankDir = tinyOnnxModel('tiny-rerank', { task: 'reranker', seed: 5 });
  const hasMiniLm = existsSync(join(MINILM_TOKENIZER, 'tokenizer.json'));
  /** Word-piece ids of lowercase text made of whole vocabulary words (throws on any other word). */
  const words = (text: string): number[] =>
    text.split(' ').map((w) => {
      const t = vocab.ids.get(w);
      if (t === undefined) throw new Error(`'${w}' is not one token of the generated vocabulary`);
      return t;
    });

  beforeAll(async () => {
    const minilm = hasMiniLm ? [{ name: 'minilm-tokenizer-embed', task: 'embeddings' as const, path: tinyOnnxModel('minilm-tokenizer-embed', { task: 'embeddings', tokenizerDir: MINILM_TOKENIZER }) }] : [];
    const onnxModels = [
      { name: 'tiny-embed', task: 'embeddings' as const, path: embedDir, aliases: ['text-embedding-tiny'] },
      { name: 'tiny-embed-mrl', task: 'embeddings' as const, path: embedDir, matryoshka: true },
      { name: 'tiny-embed-short', task: 'embeddings' as const, path: embedDir, context_size: 16 },
      // The same model twice more, each for one side of the batching test, so their counters count only it.
      { name: 'tiny-embed-solo', task: 'embeddings' as const, path: embedDir },
      { name: 'tiny-embed-burst', task: 'embeddings' as const, path: embedDir },
      { name: 'tiny-moderation', task: 'classifier' as const, path: classifierDir, categories: CATEGORIES, threshold: 0.5 },
      { name: 'tiny-rerank', task: 'reranker' as const, path: rerankDir },
      ...minilm,
    ];
    stack = await startStack({ models: [], workers: 0, onnxWorkers: 0, onnxModels });
    // The worker is started here rather than by startStack so that it logs at info level: its
    // 'model unloaded' lines carry the batching counters.
    stack.addOnnxWorker('onnx-0', { LOG_LEVEL: 'info' });
    await waitForWorker(stack, onnxModels.map((m) => m.name));
    client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  describe('embeddings', () => {
    it('float and base64 decode to the same unit-norm vectors, matching onnxruntime run directly', async () => {
      const input = 'hello world';
      const float = await client.embeddings.create({ model: 'tiny-embed', input, encoding_format: 'float' });
      const raw = await post(stack, '/v1/embeddings', { model: 'tiny-embed', input, encoding_format: 'base64' });
      expect(raw.status).toBe(200);
      // The SDK's default (no encoding_format) asks for base64 and decodes it itself.
      const viaSdk = await client.embeddings.create({ model: 'tiny-embed', input });
      const vector = float.data[0].embedding;
      expect(vector).toHaveLength(HIDDEN);
      // base64 is the same float32 values, little-endian, byte for byte.
      const le = Buffer.alloc(vector.length * 4);
      vector.forEach((x, i) => le.writeFloatLE(x, i * 4));
      expect(raw.json.data[0].embedding).toBe(le.toString('base64'));
      expect(viaSdk.data[0].embedding).toEqual(vector);
      expect(norm(vector)).toBeCloseTo(1, 5);
      // [CLS] hello world [SEP]
      expect(float.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
      expect(float.model).toBe('tiny-embed');
      // (OpenAI's schema describes only the float form.)
      if (openapiAvailable()) expect(schemaErrors('CreateEmbeddingResponse', float)).toEqual([]);
      expectClose(vector, await directEmbedding(embedDir, [vocab.clsId, id('hello'), id('world'), vocab.sepId]));
    });

    it('token-id input (one array, or an array of arrays) embeds like the same text', async () => {
      const text = await client.embeddings.create({ model: 'tiny-embed', input: 'hello world', encoding_format: 'float' });
      const ids = [vocab.clsId, id('hello'), id('world'), vocab.sepId];
      const one = await client.embeddings.create({ model: 'tiny-embed', input: ids, encoding_format: 'float' });
      const many = await client.embeddings.create({ model: 'tiny-embed', input: [ids, [vocab.clsId, id('cat'), vocab.sepId]], encoding_format: 'float' });
      expect(one.data).toHaveLength(1);
      expectClose(one.data[0].embedding, text.data[0].embedding);
      expect(many.data.map((d) => d.index)).toEqual([0, 1]);
      expectClose(many.data[0].embedding, text.data[0].embedding);
      expect(many.usage.prompt_tokens).toBe(7);
    });

    it('keeps the order of a batch input, and each input gets what it would alone', async () => {
      const inputs = ['the cat', 'a little girl went to the park with her dog', 'hello', 'once upon a time there was a big red ball', 'yes'];
      const alone: number[][] = [];
      for (const input of inputs) alone.push((await client.embeddings.create({ model: 'tiny-embed', input, encoding_format: 'float' })).data[0].embedding);
      const batch = await client.embeddings.create({ model: 'tiny-embed', input: inputs, encoding_format: 'float' });
      expect(batch.data.map((d) => d.index)).toEqual([0, 1, 2, 3, 4]);
      batch.data.forEach((d, i) => expectClose(d.embedding, alone[i]));
      // Different texts give different vectors (the model is random, not constant).
      expect(Math.abs(alone[0][0] - alone[1][0]) + Math.abs(alone[0][1] - alone[1][1])).toBeGreaterThan(1e-4);
    });

    it('merges concurrent requests into shared model runs, and each gets what it would alone', async () => {
      const inputs = ['the cat', 'a little girl went to the park with her dog', 'hello', 'once upon a time there was a big red ball', 'yes'];
      // One request at a time: each runs in a batch of its own (the counters below say so).
      const alone: number[][] = [];
      for (const input of inputs) alone.push((await client.embeddings.create({ model: 'tiny-embed-solo', input, encoding_format: 'float' })).data[0].embedding);
      expect(await unloadAndCount(stack, 'tiny-embed-solo')).toEqual({ runs: inputs.length, inputs: inputs.length, largestBatch: 1 });

      // All at once. The queue is paused until every job is in it, so the worker finds them all
      // waiting together however slowly the machine sends them; one input per request, so any run
      // of more than one input merged several requests.
      const n = 20;
      const queue = new Queue(onnxQueueName('tiny-embed-burst'), { connection: { host: '127.0.0.1', port: stack.redis.port }, prefix: REDIS_PREFIX });
      try {
        await queue.pause();
        const pending = Array.from({ length: n }, (_, k) => client.embeddings.create({ model: 'tiny-embed-burst', input: inputs[k % inputs.length], encoding_format: 'float' }));
        pending.forEach((p) => p.catch(() => undefined));
        await waitUntil(
          async () => {
            const c = await queue.getJobCounts('wait', 'paused', 'prioritized');
            return c.wait + c.paused + c.prioritized === n;
          },
          60_000,
          `${n} jobs in the paused queue`,
          stack.logs,
        );
        await queue.resume();
        const concurrent = await Promise.all(pending);
        concurrent.forEach((r, k) => expectClose(r.data[0].embedding, alone[k % inputs.length]));
      } finally {
        await queue.resume();
        await queue.close();
      }
      const burst = await unloadAndCount(stack, 'tiny-embed-burst');
      expect(burst.inputs).toBe(n);
      expect(burst.largestBatch).toBeGreaterThan(1);
      expect(burst.runs).toBeLessThan(n);
    });

    it('dimensions shortens and re-normalizes on a Matryoshka model, and is a 400 elsewhere', async () => {
      const full = await client.embeddings.create({ model: 'tiny-embed-mrl', input: 'hello world', encoding_format: 'float' });
      const short = await client.embeddings.create({ model: 'tiny-embed-mrl', input: 'hello world', dimensions: 8, encoding_format: 'float' });
      expect(short.data[0].embedding).toHaveLength(8);
      expect(norm(short.data[0].embedding)).toBeCloseTo(1, 5);
      const head = full.data[0].embedding.slice(0, 8);
      expectClose(short.data[0].embedding, head.map((x) => x / norm(head)));
      const refused = await post(stack, '/v1/embeddings', { model: 'tiny-embed', input: 'hello', dimensions: 8 });
      expect(refused.status).toBe(400);
      expect(refused.json.error.param).toBe('dimensions');
      const tooMany = await post(stack, '/v1/embeddings', { model: 'tiny-embed-mrl', input: 'hello', dimensions: HIDDEN + 1 });
      expect(tooMany.status).toBe(400);
      expect(tooMany.json.error.param).toBe('dimensions');
    });

    it('inputs over the token limit are a 400, or truncated when the request asks', async () => {
      const long = Array.from({ length: 40 }, () => 'cat').join(' ');
      const rejected = await post(stack, '/v1/embeddings', { model: 'tiny-embed-short', input: ['hello', long] });
      expect(rejected.status).toBe(400);
      expect(rejected.json.error).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded', param: 'input[1]' });
      expect(rejected.json.error.message).toContain('16 tokens');
      const truncated = await post(stack, '/v1/embeddings', { model: 'tiny-embed-short', input: long, truncate: true });
      expect(truncated.status).toBe(200);
      expect(truncated.json.usage.prompt_tokens).toBe(16);
    });

    it('bad inputs and wrong models get OpenAI errors', async () => {
      const cases: Array<[object, number, string | null]> = [
        [{ model: 'tiny-embed', input: '' }, 400, 'input'],
        [{ model: 'tiny-embed', input: [] }, 400, 'input'],
        [{ model: 'tiny-embed', input: [1.5, 2] }, 400, 'input'],
        [{ model: 'tiny-embed', input: 'hi', encoding_format: 'int8' }, 400, 'encoding_format'],
        [{ model: 'tiny-embed', input: [vocab.clsId, 999999] }, 400, 'input'],
        [{ input: 'hi' }, 400, 'model'],
        [{ model: 'no-such-model', input: 'hi' }, 404, 'model'],
        [{ model: 'tiny-moderation', input: 'hi' }, 400, 'model'],
      ];
      for (const [body, status, param] of cases) {
        const res = await post(stack, '/v1/embeddings', body);
        expect({ body, status: res.status, param: res.json.error?.param }).toEqual({ body, status, param });
        if (openapiAvailable()) expect(schemaErrors('ErrorResponse', res.json)).toEqual([]);
      }
      const chat = await post(stack, '/v1/chat/completions', { model: 'tiny-embed', messages: [{ role: 'user', content: 'hi' }] });
      expect(chat.status).toBe(400);
      expect(chat.json.error.code).toBe('model_not_supported');
    });

    it('answers by alias and lists onnx models in /v1/models', async () => {
      const r = await client.embeddings.create({ model: 'text-embedding-tiny', input: 'hi', encoding_format: 'float' });
      expect(r.model).toBe('text-embedding-tiny');
      const ids = (await client.models.list()).data.map((m) => m.id);
      expect(ids).toEqual(expect.arrayContaining(['tiny-embed', 'tiny-moderation', 'tiny-rerank']));
      const m = (await client.models.retrieve('tiny-embed')) as unknown as { backend: string; context_length: number };
      expect(m.backend).toBe('onnx');
      expect(m.context_length).toBe(128);
    });

    itIf(hasMiniLm, `the real MiniLM tokenizer (${MINILM_TOKENIZER})`)('tokenizes with the real MiniLM WordPiece tokenizer', async () => {
      const r = await client.embeddings.create({ model: 'minilm-tokenizer-embed', input: ['Hello world!', 'Tokenization'], encoding_format: 'float' });
      // [CLS] hello world ! [SEP] = 5; [CLS] token ##ization [SEP] = 4
      expect(r.usage.prompt_tokens).toBe(9);
      expect(norm(r.data[1].embedding)).toBeCloseTo(1, 5);
    });
  });

  describe('moderations', () => {
    it('maps label scores to OpenAI categories, with the official shape', async () => {
      const inputs = ['you are a bad dog', 'what a nice day in the park'];
      const res = await client.moderations.create({ model: 'tiny-moderation', input: inputs });
      expect(res.model).toBe('tiny-moderation');
      expect(res.id).toMatch(/^modr-/);
      expect(res.results).toHaveLength(2);
      if (openapiAvailable()) expect(schemaErrors('CreateModerationResponse', res)).toEqual([]);
      const labels = Object.keys(CATEGORIES) as Array<keyof typeof CATEGORIES>;
      const sig = (x: number): number => 1 / (1 + Math.exp(-x));
      for (const [i, r] of res.results.entries()) {
        // Each category's score is the highest sigmoid of the labels mapped to it, from onnxruntime run directly.
        const { logits } = await runOnnxDirect(join(classifierDir, 'onnx', 'model.onnx'), [vocab.clsId, ...words(inputs[i]), vocab.sepId]);
        const scores = r.category_scores as unknown as Record<string, number>;
        const flags = r.categories as unknown as Record<string, boolean>;
        const applied = r.category_applied_input_types as unknown as Record<string, string[]>;
        for (const [category, score] of Object.entries(scores)) {
          const covered = Object.values(CATEGORIES).some((list) => list.includes(category));
          const from = labels.flatMap((label, k) => ((CATEGORIES[label] as string[]).includes(category) ? [sig(logits[k])] : []));
          expect(score).toBeCloseTo(from.length > 0 ? Math.max(...from) : 0, 5);
          expect(flags[category]).toBe(covered && score >= 0.5);
          expect(applied[category]).toEqual(covered ? ['text'] : []);
          if (!covered) expect(score).toBe(0);
        }
        expect(r.flagged).toBe(Object.values(flags).some(Boolean));
      }
      // A single string gives the same result as the first of the list (same model, same text).
      const single = await client.moderations.create({ model: 'tiny-moderation', input: inputs[0] });
      expect(single.results[0].category_scores.harassment).toBeCloseTo(res.results[0].category_scores.harassment, 5);
    });

    it('scores are the sigmoid of the logits onnxruntime computes directly', async () => {
      const ids = [vocab.clsId, id('hello'), vocab.sepId];
      const { logits } = await runOnnxDirect(join(classifierDir, 'onnx', 'model.onnx'), ids);
      const sig = (x: number): number => 1 / (1 + Math.exp(-x));
      const res = await client.moderations.create({ model: 'tiny-moderation', input: 'hello' });
      const scores = res.results[0].category_scores as unknown as Record<string, number>;
      // labels: toxic, severe_toxic, obscene, threat, insult, identity_hate
      expect(scores.harassment).toBeCloseTo(Math.max(sig(logits[0]), sig(logits[4])), 5);
      expect(scores['harassment/threatening']).toBeCloseTo(Math.max(sig(logits[1]), sig(logits[3])), 5);
      expect(scores.sexual).toBeCloseTo(sig(logits[2]), 5);
      expect(scores.violence).toBeCloseTo(sig(logits[3]), 5);
      expect(scores.hate).toBeCloseTo(sig(logits[5]), 5);
    });

    it('takes text parts, refuses image parts, and defaults the model', async () => {
      const parts = await post(stack, '/v1/moderations', { input: [{ type: 'text', text: 'hello' }] });
      expect(parts.status).toBe(200);
      expect(parts.json.model).toBe('tiny-moderation');
      const image = await post(stack, '/v1/moderations', { input: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } }] });
      expect(image.status).toBe(400);
      expect(image.json.error.param).toBe('input[0]');
      const wrong = await post(stack, '/v1/moderations', { model: 'tiny-embed', input: 'hi' });
      expect(wrong.status).toBe(400);
      expect(wrong.json.error.code).toBe('model_not_supported');
    });
  });

  describe('fleet', () => {
    it('unloads an onnx model by the admin API, and the next request loads it again on demand', async () => {
      const unloaded = await post(stack, '/admin/models/tiny-rerank/unload', {});
      expect(unloaded.status).toBe(200);
      expect(unloaded.json.workers).toEqual(['onnx-0']);
      // /v1/models reads heartbeats through a short cache: wait until it shows the unload.
      const state = async (): Promise<string | undefined> =>
        ((await client.models.list()).data.find((m) => m.id === 'tiny-rerank') as unknown as { state: string } | undefined)?.state;
      await waitUntil(async () => (await state()) === 'available', 30_000, "/v1/models to show tiny-rerank as 'available'", stack.logs);
      const res = await post(stack, '/v1/rerank', { model: 'tiny-rerank', query: 'cat', documents: ['a cat', 'a dog'] });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchyard-worker')).toBe('onnx-0');
      expect(res.json.results).toHaveLength(2);
    });
  });

  describe('rerank', () => {
    const query = 'where is the cat';
    const documents = ['the cat is in the house', 'a big red ball', 'the dog went to the park', 'cat', 'once upon a time'];

    it('sorts by relevance_score, honours top_n and return_documents, on /v1/rerank and /rerank', async () => {
      const all = await post(stack, '/v1/rerank', { model: 'tiny-rerank', query, documents });
      expect(all.status).toBe(200);
      const results = all.json.results as Array<{ index: number; relevance_score: number; document?: { text: string } }>;
      expect(results).toHaveLength(documents.length);
      expect(results.map((r) => r.index).sort()).toEqual([0, 1, 2, 3, 4]);
      for (let i = 1; i < results.length; i++) expect(results[i - 1].relevance_score).toBeGreaterThanOrEqual(results[i].relevance_score);
      for (const r of results) expect(r.document?.text).toBe(documents[r.index]);
      expect(new Set(results.map((r) => r.relevance_score.toFixed(6))).size).toBeGreaterThan(1);
      // Each pair is [CLS] query [SEP] document [SEP].
      expect(all.json.usage.prompt_tokens).toBe(documents.reduce((n, d) => n + 3 + words(query).length + words(d).length, 0));

      const top = await post(stack, '/rerank', { model: 'tiny-rerank', query, documents: documents.map((text) => ({ text })), top_n: 2, return_documents: false });
      expect(top.status).toBe(200);
      expect(top.json.results).toEqual(results.slice(0, 2).map(({ index, relevance_score }) => ({ index, relevance_score })));
    });

    it('scores a document the same alone as among others', async () => {
      const all = await post(stack, '/v1/rerank', { model: 'tiny-rerank', query, documents });
      for (const [i, doc] of documents.entries()) {
        const alone = await post(stack, '/v1/rerank', { query, documents: [doc] });
        const inAll = (all.json.results as Array<{ index: number; relevance_score: number }>).find((r) => r.index === i)!;
        expect(alone.json.results[0].relevance_score).toBeCloseTo(inAll.relevance_score, 5);
      }
    });

    it('bad requests get 400s', async () => {
      const cases: object[] = [
        { model: 'tiny-rerank', query: 'q', documents: [] },
        { model: 'tiny-rerank', documents: ['a'] },
        { model: 'tiny-rerank', query: 'q', documents: [1, 2] },
        { model: 'tiny-rerank', query: 'q', documents: ['a'], top_n: 0 },
        { model: 'tiny-embed', query: 'q', documents: ['a'] },
      ];
      for (const body of cases) {
        const res = await post(stack, '/v1/rerank', body);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
      }
    });
  });
});
