/**
 * Reads the models file (YAML), checks it against models.schema.json (models-schema.ts) and turns
 * its entries into descriptors. Gateway and workers read the same file, so a model is known by the
 * same name, aliases and settings on both sides.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import type { LlamaCppModelDescriptor, ModelDescriptor } from '@switchyard/contracts';
import { parseOnnxEntry, type OnnxEntry } from './onnx-models-file';
import { BACKEND_SCHEMAS, durationMs, modelsFileProblem } from './models-schema';
import { parseUpstreamEntry, type UpstreamEntry } from './models-upstream';

export class ModelsFileError extends Error {}

/** A llama.cpp entry as models.schema.json admits it. */
export interface LlamaCppEntry {
  name: string;
  aliases?: string[];
  backend?: 'llama.cpp';
  path: string;
  context_size?: number;
  parallel?: number;
  threads: number;
  gpu_layers?: LlamaCppModelDescriptor['gpuLayers'];
  max_queue?: number;
  auto_load?: boolean;
  preload?: boolean;
  keep_alive?: number | string;
  max_keep_alive?: number | string;
  reasoning?: boolean | 'auto';
  reasoning_markers?: [string, string];
  owned_by?: string;
  embedding?: boolean;
}

function parseEntry(entry: Record<string, unknown>, index: number, baseDir: string, created: number): ModelDescriptor {
  const name = entry.name as string;
  const at = `models[${index}] (${name})`;
  const aliases = (entry.aliases as string[] | undefined) ?? [];
  const backend = (entry.backend ?? 'llama.cpp') as keyof typeof BACKEND_SCHEMAS;
  switch (backend) {
    case 'upstream':
      return parseUpstreamEntry(entry as unknown as UpstreamEntry, at, name, aliases, created);
    case 'onnx':
      return parseOnnxEntry(entry as unknown as OnnxEntry, { at, name, aliases, baseDir, created });
    case 'llama.cpp':
      break;
  }
  const e = entry as unknown as LlamaCppEntry;
  const keepAliveMs = durationMs(e.keep_alive, -1);
  const maxKeepAliveMs = durationMs(e.max_keep_alive, keepAliveMs);
  if (holdLonger(keepAliveMs, maxKeepAliveMs) === keepAliveMs && keepAliveMs !== maxKeepAliveMs) {
    throw new ModelsFileError(`${at}: 'max_keep_alive' must not be shorter than 'keep_alive' (-1 is the longest)`);
  }
  return {
    name,
    aliases,
    backend: 'llama.cpp',
    path: isAbsolute(e.path) ? e.path : resolve(baseDir, e.path),
    contextSize: e.context_size ?? 4096,
    parallel: e.parallel ?? 1,
    threads: e.threads,
    gpuLayers: e.gpu_layers ?? 0,
    maxQueue: e.max_queue ?? 64,
    autoLoad: e.auto_load ?? true,
    preload: e.preload ?? true,
    keepAliveMs,
    ...(maxKeepAliveMs !== keepAliveMs ? { maxKeepAliveMs } : {}),
    reasoning: e.reasoning ?? 'auto',
    reasoningMarkers: e.reasoning_markers ?? ['<think>', '</think>'],
    created,
    ownedBy: e.owned_by ?? 'switchyard',
    ...(e.embedding === true ? { embedding: true } : {}),
  };
}

/** The longer of two holds in ms, where -1 is forever. */
function holdLonger(a: number, b: number): number {
  return a < 0 || b < 0 ? -1 : Math.max(a, b);
}

/**
 * How long a model stays loaded after a request that asked for `requestedMs` (its `keep_alive`;
 * -1 forever): never less than the model's `keep_alive` and never more than its `max_keep_alive`,
 * so a request can only lengthen the hold, within what the models file allows. Unloading a shared
 * model sooner is for admins (the admin API's unload).
 */
export function requestHoldMs(model: { keepAliveMs: number; maxKeepAliveMs?: number }, requestedMs: number | undefined): number {
  const floor = model.keepAliveMs;
  if (requestedMs === undefined) return floor;
  const cap = model.maxKeepAliveMs ?? floor;
  const capped = cap < 0 ? requestedMs : requestedMs < 0 ? cap : Math.min(requestedMs, cap);
  return holdLonger(floor, capped);
}

/** Parses models YAML text; relative GGUF paths resolve against `baseDir`. */
export function parseModelsYaml(text: string, baseDir: string, created = Math.floor(Date.now() / 1000)): ModelDescriptor[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ModelsFileError(`not valid YAML: ${(err as Error).message}`);
  }
  const problem = modelsFileProblem(doc);
  if (problem !== undefined) throw new ModelsFileError(problem);
  const models = (doc as { models: Array<Record<string, unknown>> }).models.map((entry, i) => parseEntry(entry, i, baseDir, created));
  const seen = new Map<string, string>();
  for (const m of models) {
    for (const id of [m.name, ...m.aliases]) {
      const other = seen.get(id);
      if (other !== undefined) throw new ModelsFileError(`name '${id}' is used by both '${other}' and '${m.name}'`);
      seen.set(id, m.name);
    }
  }
  return models;
}

export function loadModelsFile(path: string): ModelDescriptor[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ModelsFileError(`cannot read models file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parseModelsYaml(text, dirname(resolve(path)));
  } catch (err) {
    if (err instanceof ModelsFileError) throw new ModelsFileError(`${path}: ${err.message}`);
    throw err;
  }
}

/** Name or alias → descriptor. */
export class ModelCatalog {
  private readonly byId = new Map<string, ModelDescriptor>();
  constructor(readonly models: readonly ModelDescriptor[]) {
    for (const m of models) {
      this.byId.set(m.name, m);
      for (const a of m.aliases) this.byId.set(a, m);
    }
  }
  resolve(id: string): ModelDescriptor | undefined {
    return this.byId.get(id);
  }
}
