/**
 * /v1/embeddings for a GGUF model (`embedding: true`) served by the llm worker through
 * node-llama-cpp's embedding context: the same endpoint and shapes as ONNX embedding models.
 */
import OpenAI from 'openai';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

const norm = (v: number[]): number => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

describe('GGUF embeddings through the llm worker (e2e)', () => {
  let stack: Stack;
  let client: OpenAI;

  beforeAll(async () => {
    const path = await tinyModel('tiny-chat');
    stack = await startStack({
      models: [
        { name: 'gguf-embed', path, embedding: true, context_size: 64, parallel: 2 },
        { name: 'tiny-chat', path, context_size: 256 },
      ],
    });
    client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('returns unit-norm vectors, the same as floats and as base64, in input order', async () => {
    const inputs = ['the little girl', 'a big red ball in the park', 'hello'];
    const batch = await client.embeddings.create({ model: 'gguf-embed', input: inputs, encoding_format: 'float' });
    expect(batch.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(batch.data[0].embedding).toHaveLength(64);
    for (const d of batch.data) expect(norm(d.embedding)).toBeCloseTo(1, 4);
    expect(batch.usage.prompt_tokens).toBeGreaterThan(inputs.length);
    if (openapiAvailable()) expect(schemaErrors('CreateEmbeddingResponse', batch)).toEqual([]);
    const viaBase64 = await client.embeddings.create({ model: 'gguf-embed', input: inputs[1] });
    expect(viaBase64.data[0].embedding).toEqual(batch.data[1].embedding);
    expect(batch.data[0].embedding).not.toEqual(batch.data[1].embedding);
  });

  it('accepts token ids, refuses ids outside the vocabulary, and enforces the context', async () => {
    const tokens = await client.embeddings.create({ model: 'gguf-embed', input: [[5, 300, 301], [5, 300, 301]], encoding_format: 'float' });
    expect(tokens.data[0].embedding).toEqual(tokens.data[1].embedding);
    const bad = await fetch(`${stack.baseUrl}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gguf-embed', input: [1, 999999] }) });
    expect(bad.status).toBe(400);
    const long = Array.from({ length: 200 }, () => 'the').join(' ');
    const tooLong = await fetch(`${stack.baseUrl}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gguf-embed', input: long }) });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { error: { code: string } }).error.code).toBe('context_length_exceeded');
    const truncated = await client.embeddings.create({ model: 'gguf-embed', input: long, truncate: true } as OpenAI.EmbeddingCreateParams);
    expect(truncated.usage.prompt_tokens).toBeLessThan(64);
  });

  it('keeps chat and embedding models apart', async () => {
    const chat = await fetch(`${stack.baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gguf-embed', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(chat.status).toBe(400);
    const embed = await fetch(`${stack.baseUrl}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-chat', input: 'hi' }) });
    expect(embed.status).toBe(400);
    expect(((await embed.json()) as { error: { param: string } }).error.param).toBe('model');
    // Token tools work on its vocabulary; a next-token distribution it has not.
    const tokens = await fetch(`${stack.baseUrl}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gguf-embed', content: 'hi' }) });
    expect(tokens.status).toBe(200);
    const logits = await fetch(`${stack.baseUrl}/v1/internal/logits`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gguf-embed', prompt: 'hi' }) });
    expect(logits.status).toBe(400);
    expect(((await logits.json()) as { error: { code: string } }).error.code).toBe('model_not_supported');
  });
});
