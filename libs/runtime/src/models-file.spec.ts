import { ModelCatalog, ModelsFileError, parseModelsYaml, requestHoldMs } from './models-file';

describe('parseModelsYaml', () => {
  const ok = `
models:
  - name: qwen2.5:0.5b
    aliases: [gpt-4o-mini]
    path: models/qwen.gguf
    context_size: 8192
    parallel: 2
    threads: 4
  - name: tiny
    path: /abs/tiny.gguf
    threads: 1
`;

  it('reads entries, resolves relative paths and applies defaults', () => {
    const [a, b] = parseModelsYaml(ok, '/srv/switchyard', 100);
    expect(a).toMatchObject({
      name: 'qwen2.5:0.5b',
      aliases: ['gpt-4o-mini'],
      backend: 'llama.cpp',
      path: '/srv/switchyard/models/qwen.gguf',
      contextSize: 8192,
      parallel: 2,
      threads: 4,
      gpuLayers: 0,
      created: 100,
    });
    expect(b).toMatchObject({
      path: '/abs/tiny.gguf',
      contextSize: 4096,
      parallel: 1,
      maxQueue: 64,
      autoLoad: true,
      preload: true,
      keepAliveMs: -1,
    });
  });

  it('reads on-demand settings', () => {
    const [m] = parseModelsYaml('models:\n  - name: x\n    path: x\n    threads: 1\n    preload: false\n    auto_load: false\n    keep_alive: 5m\n', '/');
    expect(m).toMatchObject({ preload: false, autoLoad: false, keepAliveMs: 300_000 });
    expect(() => parseModelsYaml('models:\n  - name: x\n    path: x\n    threads: 1\n    keep_alive: soon\n', '/')).toThrow(/keep_alive/);
  });

  it('reads max_keep_alive, which may not be shorter than keep_alive', () => {
    const entry = (extra: string): string => `models:\n  - name: x\n    path: x\n    threads: 1\n${extra}`;
    expect(parseModelsYaml(entry('    keep_alive: 5m\n    max_keep_alive: 1h\n'), '/')[0]).toMatchObject({ keepAliveMs: 300_000, maxKeepAliveMs: 3_600_000 });
    expect(parseModelsYaml(entry('    keep_alive: 5m\n    max_keep_alive: -1\n'), '/')[0]).toMatchObject({ maxKeepAliveMs: -1 });
    expect(parseModelsYaml(entry('    keep_alive: 5m\n'), '/')[0]).not.toHaveProperty('maxKeepAliveMs');
    expect(() => parseModelsYaml(entry('    keep_alive: 1h\n    max_keep_alive: 5m\n'), '/')).toThrow(/max_keep_alive/);
    expect(() => parseModelsYaml(entry('    max_keep_alive: 5m\n'), '/')).toThrow(/max_keep_alive/);
    expect(() => parseModelsYaml(entry('    max_keep_alive: later\n'), '/')).toThrow(/max_keep_alive/);
  });

  it('bounds a request keep_alive between keep_alive and max_keep_alive', () => {
    const capped = { keepAliveMs: 60_000, maxKeepAliveMs: 3_600_000 };
    expect(requestHoldMs(capped, undefined)).toBe(60_000);
    expect(requestHoldMs(capped, 0)).toBe(60_000);
    expect(requestHoldMs(capped, 600_000)).toBe(600_000);
    expect(requestHoldMs(capped, 7_200_000)).toBe(3_600_000);
    expect(requestHoldMs(capped, -1)).toBe(3_600_000);
    expect(requestHoldMs({ keepAliveMs: 60_000 }, 600_000)).toBe(60_000);
    expect(requestHoldMs({ keepAliveMs: 60_000, maxKeepAliveMs: -1 }, -1)).toBe(-1);
    expect(requestHoldMs({ keepAliveMs: -1 }, 0)).toBe(-1);
  });

  it('requires threads, because the library default oversubscribes small machines', () => {
    expect(() => parseModelsYaml('models:\n  - name: x\n    path: x.gguf\n', '/')).toThrow(/'threads' is required/);
  });

  it.each([
    ['models: 3', /'models' list/],
    ['models:\n  - name: "bad name"\n    path: x\n    threads: 1', /'name'/],
    ['models:\n  - name: x\n    path: x\n    threads: 0', /'threads'/],
    ['models:\n  - name: x\n    path: x\n    threads: 1\n    backend: vllm', /unknown backend/],
    ['models:\n  - name: x\n    path: x\n    threads: 1\n  - name: y\n    aliases: [x]\n    path: y\n    threads: 1', /used by both/],
    ['models: [', /not valid YAML/],
  ])('rejects %j', (text, message) => {
    expect(() => parseModelsYaml(text, '/')).toThrow(ModelsFileError);
    expect(() => parseModelsYaml(text, '/')).toThrow(message);
  });

  it('resolves names and aliases in the catalog', () => {
    const catalog = new ModelCatalog(parseModelsYaml(ok, '/'));
    expect(catalog.resolve('gpt-4o-mini')?.name).toBe('qwen2.5:0.5b');
    expect(catalog.resolve('tiny')?.name).toBe('tiny');
    expect(catalog.resolve('nope')).toBeUndefined();
  });
});
