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

  const speech = (extra = ''): string => `  - name: w\n    backend: onnx\n    task: speech-recognition\n    path: /w\n${extra}`;

  it("admits speech-recognition with OpenAI's decoding defaults and the fp32 encoder file", () => {
    const [m] = parse(speech());
    expect(m).toMatchObject({ task: 'speech-recognition', file: 'onnx/encoder_model.onnx', parallel: 8, maxBatch: 1 });
    expect(parse(speech('    parallel: 2\n    max_batch: 1\n'))[0]).toMatchObject({ parallel: 2, maxBatch: 1 });
    expect(m.backend === 'onnx' && m.speech).toEqual({
      dtype: 'fp32',
      temperatureFallback: [0, 0.2, 0.4, 0.6, 0.8, 1],
      compressionRatioThreshold: 2.4,
      logprobThreshold: -1,
      noSpeechThreshold: 0.6,
      maxDurationS: 7200,
    });
  });

  it.each([
    ['q8', 'onnx/encoder_model_quantized.onnx'],
    ['fp16', 'onnx/encoder_model_fp16.onnx'],
    ['q4f16', 'onnx/encoder_model_q4f16.onnx'],
  ])('picks the encoder file transformers.js names for dtype %s', (dtype, file) => {
    const [m] = parse(speech(`    dtype: ${dtype}\n`));
    expect(m).toMatchObject({ file, speech: { dtype } });
  });

  it('keeps an explicit file and the speech keys it is given; null turns a check off', () => {
    const [m] = parse(
      speech('    file: onnx/encoder.onnx\n    temperature_fallback: [0, 0.5]\n    compression_ratio_threshold: null\n') +
        '    logprob_threshold: null\n    no_speech_threshold: 0.3\n    max_duration: 60\n',
    );
    expect(m).toMatchObject({
      file: 'onnx/encoder.onnx',
      speech: { temperatureFallback: [0, 0.5], compressionRatioThreshold: null, logprobThreshold: null, noSpeechThreshold: 0.3, maxDurationS: 60 },
    });
  });

  const diffusion = (extra = ''): string => `  - name: sd\n    backend: onnx\n    task: image-generation\n    path: /sd\n${extra}`;

  it('admits image-generation with its sizes and step counts, two jobs held and no batching', () => {
    const [m] = parse(diffusion());
    expect(m).toMatchObject({ task: 'image-generation', file: 'unet/model.onnx', parallel: 2, maxBatch: 1 });
    expect(m.backend === 'onnx' && m.image).toEqual({
      defaultSize: { width: 512, height: 512 },
      minSide: 64,
      maxSide: 2048,
      sizeMultiple: 8,
      qualitySteps: { low: 1, medium: 2, high: 4 },
      maxSteps: 100,
      guidanceScale: 7.5,
      strength: 0.75,
    });
    const [custom] = parse(diffusion('    default_size: 768x512\n    size_multiple: 64\n    quality_steps: { low: 10, medium: 25, high: 50 }\n    scheduler: pndm\n    guidance_scale: 0\n'));
    expect(custom).toMatchObject({ image: { defaultSize: { width: 768, height: 512 }, sizeMultiple: 64, qualitySteps: { low: 10, medium: 25, high: 50 }, scheduler: 'pndm', guidanceScale: 0 } });
  });

  it.each([
    ['    default_size: 500x500\n', /default_size.*multiples of 8/],
    ['    default_size: 512x512\n    size_multiple: 64\n    min_side: 1024\n', /default_size/],
    ['    min_side: 512\n    max_side: 256\n', /default_size|min_side/],
    ['    scheduler: magic\n', /scheduler/],
    ['    quality_steps: { ultra: 9 }\n', /unknown key 'ultra'/],
  ])('names the bad image key: %s', (extra, message) => {
    expect(() => parse(diffusion(extra))).toThrow(ModelsFileError);
    expect(() => parse(diffusion(extra))).toThrow(message);
  });

  it('gives the other tasks no speech options', () => {
    const [m] = parse('  - name: e\n    backend: onnx\n    task: embeddings\n    path: /e\n    dtype: q8\n');
    expect(m).toMatchObject({ file: 'onnx/model.onnx' });
    expect(m).not.toHaveProperty('speech');
  });

  it.each([
    ['    dtype: int4\n', "models[0] (w): 'dtype' must be one of fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4"],
    ['    max_duration: -5\n', "models[0] (w): 'max_duration' must be a positive number of seconds, at most 86400"],
    ['    max_duration: 0\n', "models[0] (w): 'max_duration' must be a positive number of seconds, at most 86400"],
    ['    compression_ratio_threshold: 0\n', "models[0] (w): 'compression_ratio_threshold' must be a positive number, or null to turn the check off"],
    ['    logprob_threshold: 0.5\n', "models[0] (w): 'logprob_threshold' must be a number of 0 or below, or null to turn the check off"],
    ['    no_speech_threshold: 2\n', "models[0] (w): 'no_speech_threshold' must be a number from 0 to 1, or null to turn the check off"],
    ['    temperature_fallback: []\n', "models[0] (w): 'temperature_fallback' must be a list of temperatures from 0 to 2"],
    ['    temperature_fallback: [0, 3]\n', "models[0] (w): 'temperature_fallback' must be a list of temperatures from 0 to 2"],
  ])('rejects the speech key in %j, naming it', (extra, message) => {
    expect(() => parse(speech(extra))).toThrow(new ModelsFileError(message));
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
