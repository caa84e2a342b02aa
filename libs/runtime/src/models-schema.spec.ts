/** models.schema.json: what it rejects and how the error line reads, and that it agrees with the parsers and the docs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { ONNX_TASKS } from '@switchyard/contracts';
import { parseModelsYaml, type LlamaCppEntry } from './models-file';
import { BACKEND_SCHEMAS, invalidMessage, MODELS_SCHEMA, resolveRef } from './models-schema';
import type { UpstreamDeploymentEntry, UpstreamEntry } from './models-upstream';
import { OPENAI_MODERATION_CATEGORIES, type OnnxEntry } from './onnx-models-file';
import schemaJson from './models.schema.json';

const ROOT = join(__dirname, '../../..');

// Compile-time: the keys each parser reads are exactly the keys the schema admits for its backend.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Common = 'name' | 'aliases' | 'backend';
type Defs = typeof schemaJson.definitions;
export const keysAgree: [
  Same<keyof LlamaCppEntry, keyof Defs['llamaCpp']['properties']>,
  Same<keyof OnnxEntry | Common, keyof Defs['onnx']['properties']>,
  Same<keyof UpstreamEntry | Common, keyof Defs['upstream']['properties']>,
  Same<keyof UpstreamDeploymentEntry, keyof Defs['deployment']['properties']>,
] = [true, true, true, true];

const fails = (yaml: string): string => {
  try {
    parseModelsYaml(yaml, '/');
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('accepted');
};

describe('models.schema.json', () => {
  it('is a valid draft-07 schema that compiles in strict mode', () => {
    const ajv = new Ajv({ strict: true, allowUnionTypes: true, keywords: ['x-message', 'x-required'] });
    expect(ajv.validateSchema(schemaJson)).toBe(true);
    expect(() => ajv.compile(schemaJson)).not.toThrow();
  });

  it.each([
    ['llama.cpp', '  - { name: qwen, path: q.gguf, thread: 2 }', "models[0] (qwen): unknown key 'thread' (did you mean 'threads'?)"],
    ['llama.cpp', '  - { name: qwen, path: q.gguf, threads: 2, keep_alve: 5m }', "models[0] (qwen): unknown key 'keep_alve' (did you mean 'keep_alive'?)"],
    ['onnx', '  - { name: e, backend: onnx, task: embeddings, path: m, max_bach: 8 }', "models[0] (e): unknown key 'max_bach' (did you mean 'max_batch'?)"],
    ['upstream', '  - { name: u, backend: upstream, base_url: "http://x/v1", concurrancy: 2 }', "models[0] (u): unknown key 'concurrancy' (did you mean 'concurrency'?)"],
    ['a deployment', '  - { name: u, backend: upstream, deployments: [{ base_url: "http://x/v1", wieght: 2 }] }', "models[0] (u) deployments[0]: unknown key 'wieght' (did you mean 'weight'?)"],
    ['llama.cpp, nothing close', '  - { name: q, path: q.gguf, threads: 1, colour: red }', "models[0] (q): unknown key 'colour'"],
    ['llama.cpp, a key of another backend', '  - { name: q, path: q.gguf, threads: 1, task: embeddings }', "models[0] (q): unknown key 'task'"],
  ])('names a misspelled key of %s, its model and the key meant', (_backend, entry, message) => {
    expect(fails(`models:\n  - { name: ok, path: ok.gguf, threads: 1 }\n${entry.replace('models[0]', 'models[1]')}\n`)).toBe(message.replace('models[0]', 'models[1]'));
  });

  it('names an unknown top-level key', () => {
    expect(fails('modles:\n  - { name: q, path: q.gguf, threads: 1 }\n')).toBe("top level: unknown key 'modles' (did you mean 'models'?)");
    expect(fails('models: []\nsettings: {}\n')).toBe("top level: unknown key 'settings'");
  });

  it('reports the misspelled key before the required key it misses, in one line', () => {
    const message = fails('models:\n  - name: e\n    backend: onnx\n    tsak: embeddings\n    path: m\n');
    expect(message).toBe("models[0] (e): unknown key 'tsak' (did you mean 'task'?)");
    expect(message).not.toContain('\n');
  });

  it.each([
    ['    threads:', "'threads' must be an integer from 1 to 1024"],
    ['    threads: 1\n    gpu_layers: lots', "'gpu_layers' must be 'auto', 'max' or a count"],
    ['    threads: 1\n    aliases: [ok, "bad name"]', "'aliases' must be a list of names"],
    ['    threads: 1\n    owned_by: 3', "'owned_by' must be a string"],
    ['    threads: 1\n    reasoning_markers: [a]', "'reasoning_markers' must be two strings, the opening and closing markers"],
  ])('words a wrong value by its key (%j)', (extra, message) => {
    expect(fails(`models:\n  - name: x\n    path: x\n${extra}\n`)).toBe(`models[0] (x): ${message}`);
  });

  it('admits the README examples, the repo models files (their commented entries too) and the runner flags entries', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const texts = [
      ...blocks.map((b) => (b.startsWith('models:') ? b : `models:\n${b}`)),
      readFileSync(join(ROOT, 'models.yaml'), 'utf8'),
      readFileSync(join(ROOT, 'models.docker.yaml'), 'utf8').replace(/^(\s*)# (-| {2}\w+:| {4}-)/gm, '$1$2'),
      JSON.stringify({ models: [{ name: 'm', path: '/m.gguf', threads: 2, parallel: 2, context_size: 4096 }] }),
      JSON.stringify({ models: [{ name: 'm', backend: 'upstream', base_url: 'http://h/v1', concurrency: 4, upstream_model: 'x', api_key_env: 'K', context_length: 8192 }] }),
    ];
    const backends = new Set<string>();
    for (const text of texts) for (const m of parseModelsYaml(text, '/srv')) backends.add(m.backend);
    expect([...backends].sort()).toEqual(['llama.cpp', 'onnx', 'upstream']);
    expect(parseModelsYaml(texts[blocks.length + 1], '/')).toHaveLength(4); // the docker file's upstream entry was uncommented
  });

  it('has a message for every key, so each error is one line naming it', () => {
    for (const def of [...Object.values(BACKEND_SCHEMAS), MODELS_SCHEMA.definitions.deployment]) {
      for (const [key, node] of Object.entries(def.properties ?? {})) {
        if (key === 'backend') continue; // an unknown backend has its own line
        expect([key, invalidMessage(node)]).toEqual([key, expect.any(String)]);
      }
    }
  });

  it('lists the tasks and moderation categories the code knows', () => {
    expect(resolveRef(MODELS_SCHEMA.definitions.onnx.properties?.task ?? {})).toMatchObject({ enum: [...ONNX_TASKS] });
    expect(MODELS_SCHEMA.definitions.moderation_category).toEqual({ enum: [...OPENAI_MODERATION_CATEGORIES] });
  });

  it.each([
    ['llama.cpp', { name: 'm', path: 'm.gguf', threads: 1 }],
    ['onnx', { name: 'm', backend: 'onnx', task: 'embeddings', path: 'm' }],
    // `file`'s documented default is the encoder tasks' one; a Whisper's follows its dtype (onnx-models-file.spec.ts).
    // A Whisper holds 8 jobs and batches no windows by default (see onnx-models-file.ts); the schema documents the encoders' 32.
    ['onnx speech-recognition', { name: 'm', backend: 'onnx', task: 'speech-recognition', path: 'm', file: 'onnx/encoder_model.onnx', parallel: 32, max_batch: 32 }],
    ['upstream', { name: 'm', backend: 'upstream', base_url: 'http://h/v1' }],
    ['upstream deployments', { name: 'm', backend: 'upstream', deployments: [{ base_url: 'http://h/v1' }] }],
  ])('documents the defaults the %s parser applies', (backend, entry) => {
    const def = BACKEND_SCHEMAS[('backend' in entry ? entry.backend : 'llama.cpp') as keyof typeof BACKEND_SCHEMAS];
    const withDefaults: Record<string, unknown> = { ...entry };
    for (const [key, node] of Object.entries(def.properties ?? {})) {
      const d = resolveRef(node).default;
      if (d !== undefined && !(key in entry)) withDefaults[key] = d;
    }
    expect(Object.keys(withDefaults).length).toBeGreaterThan(Object.keys(entry).length + 3);
    const parse = (e: object): unknown => parseModelsYaml(JSON.stringify({ models: [e] }), '/srv', 1);
    expect(parse(withDefaults)).toEqual(parse(entry));
  });
});
