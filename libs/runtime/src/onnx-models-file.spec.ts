import { ModelsFileError, parseModelsYaml } from './models-file';

const parse = (entry: string): ReturnType<typeof parseModelsYaml> => parseModelsYaml(`models:\n${entry}`, '/base', 1000);

describe('models file: onnx entries', () => {
  it('fills defaults and resolves the folder against the file', () => {
    const [m] = parse('  - name: embed\n    backend: onnx\n    task: embeddings\n    path: models/embed\n');
    expect(m).toEqual({
      name: 'embed',
      aliases: [],
      backend: 'onnx',
      task: 'embeddings',
      path: '/base/models/embed',
      file: 'onnx/model.onnx',
      contextSize: 512,
      parallel: 32,
      threads: 1,
      maxBatch: 32,
      batchWaitMs: 2,
      pooling: 'mean',
      normalize: true,
      matryoshka: false,
      categories: {},
      threshold: 0.5,
      maxQueue: 256,
      autoLoad: true,
      preload: true,
      keepAliveMs: -1,
      created: 1000,
      ownedBy: 'switchyard',
    });
  });

  it('reads classifier categories (one or several per label) and batching settings', () => {
    const [m] = parse(
      '  - name: mod\n    backend: onnx\n    task: classifier\n    path: /m\n    max_batch: 1\n    batch_wait_ms: 0\n    threshold: 0.8\n' +
        '    categories:\n      toxic: harassment\n      threat: [violence, harassment/threatening]\n',
    );
    expect(m).toMatchObject({ maxBatch: 1, batchWaitMs: 0, threshold: 0.8, categories: { toxic: ['harassment'], threat: ['violence', 'harassment/threatening'] } });
  });

  it.each([
    ['  - name: x\n    backend: onnx\n    path: /m\n', "'task' is required"],
    ['  - name: x\n    backend: onnx\n    task: speech\n    path: /m\n', "'task' is required"],
    ['  - name: x\n    backend: onnx\n    task: embeddings\n', "'path'"],
    ['  - name: x\n    backend: onnx\n    task: classifier\n    path: /m\n    categories: {toxic: rudeness}\n', "'categories.toxic'"],
    ['  - name: x\n    backend: onnx\n    task: embeddings\n    path: /m\n    pooling: max\n', "'pooling'"],
    ['  - name: x\n    backend: onnx\n    task: embeddings\n    path: /m\n    max_batch: 0\n', "'max_batch'"],
    ['  - name: x\n    backend: onnx\n    task: embeddings\n    path: /m\n    file: /abs.onnx\n', "'file'"],
    ['  - name: x\n    backend: tensorrt\n    path: /m\n', "unknown backend 'tensorrt'"],
  ])('rejects %j', (entry, message) => {
    expect(() => parse(entry)).toThrow(ModelsFileError);
    expect(() => parse(entry)).toThrow(message);
  });
});
