import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { generateBertModel } from './bert-model';
import { ProtoWriter } from './protobuf-writer';
import { generateWordPieceVocab } from './wordpiece';

describe('ProtoWriter', () => {
  it('encodes varints, negative int64s, floats, strings and packed ints as protobuf does', () => {
    expect(Array.from(new ProtoWriter().int(1, 150).finish())).toEqual([0x08, 0x96, 0x01]);
    expect(new ProtoWriter().int(1, -1).finish()).toHaveLength(11); // tag + ten bytes
    expect(Array.from(new ProtoWriter().float(2, 1).finish())).toEqual([0x15, 0, 0, 0x80, 0x3f]);
    expect(Array.from(new ProtoWriter().string(2, 'hi').finish())).toEqual([0x12, 2, 0x68, 0x69]);
    expect(Array.from(new ProtoWriter().packedInts(4, [3, 270]).finish())).toEqual([0x22, 3, 3, 0x8e, 0x02]);
  });
});

describe('generateBertModel', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-bert-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['embeddings', 'last_hidden_state'],
    ['classifier', 'logits'],
    ['reranker', 'logits'],
  ] as const)('writes a %s model onnxruntime loads, with BERT input names and output %s', async (task, output) => {
    const out = join(dir, task);
    const model = generateBertModel({ dir: out, task, seed: 2 });
    const session = await ort.InferenceSession.create(join(out, 'onnx', 'model.onnx'));
    try {
      expect(session.inputNames).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
      expect(session.outputNames).toEqual([output]);
    } finally {
      await session.release();
    }
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'bert', hidden_size: 32, vocab_size: model.vocabSize });
    if (task === 'classifier') expect(config).toMatchObject({ problem_type: 'multi_label_classification', id2label: { '0': 'toxic' } });
    if (task === 'reranker') expect(Object.keys(config.id2label as object)).toHaveLength(1);
  });

  it('writes a WordPiece tokenizer.json whose vocabulary matches the model', () => {
    const out = join(dir, 'tok');
    const model = generateBertModel({ dir: out, task: 'embeddings' });
    const tokenizer = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')) as { model: { type: string; vocab: Record<string, number> } };
    const vocab = generateWordPieceVocab();
    expect(tokenizer.model.type).toBe('WordPiece');
    expect(Object.keys(tokenizer.model.vocab)).toHaveLength(model.vocabSize);
    expect(tokenizer.model.vocab['[CLS]']).toBe(vocab.clsId);
    expect(tokenizer.model.vocab.hello).toBe(vocab.ids.get('hello'));
  });

  it('is deterministic per seed', () => {
    generateBertModel({ dir: join(dir, 'a'), task: 'embeddings', seed: 9 });
    generateBertModel({ dir: join(dir, 'b'), task: 'embeddings', seed: 9 });
    generateBertModel({ dir: join(dir, 'c'), task: 'embeddings', seed: 10 });
    const file = (d: string): Buffer => readFileSync(join(dir, d, 'onnx', 'model.onnx'));
    expect(file('a').equals(file('b'))).toBe(true);
    expect(file('a').equals(file('c'))).toBe(false);
  });
});
