/**
 * Reads and validates the models file (YAML). Gateway and workers read the same file, so a model is
 * known by the same name, aliases and settings on both sides.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import type { LlamaCppModelDescriptor, ModelDescriptor } from '@switchyard/contracts';
import { parseOnnxEntry } from './onnx-models-file';
import { parseDurationMs } from './duration';
import { parseUpstreamEntry } from './models-upstream';

export class ModelsFileError extends Error {}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;

type Raw = Record<string, unknown>;

export function int(entry: Raw, key: string, where: string, def: number, min: number, max: number): number {
  const v = entry[key] ?? def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ModelsFileError(`${where}: '${key}' must be an integer from ${min} to ${max}`);
  }
  return v;
}

function parseEntry(entry: unknown, index: number, baseDir: string, created: number): ModelDescriptor {
  const where = `models[${index}]`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ModelsFileError(`${where}: must be a mapping`);
  }
  const e = entry as Raw;
  const name = e.name;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new ModelsFileError(`${where}: 'name' must be 1-128 characters of letters, digits and ._:/@+-`);
  }
  const at = `${where} (${name})`;
  const aliases = e.aliases ?? [];
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string' || !NAME_RE.test(a))) {
    throw new ModelsFileError(`${at}: 'aliases' must be a list of names`);
  }
  const backend = e.backend ?? 'llama.cpp';
  if (backend === 'upstream') return parseUpstreamEntry(e, at, name, aliases as string[], created);
  if (backend === 'onnx') return parseOnnxEntry(e, { name, aliases: aliases as string[], at, baseDir, created, fail: (m) => new ModelsFileError(m) });
  if (backend !== 'llama.cpp') {
    throw new ModelsFileError(`${at}: unknown backend '${String(backend)}' (supported: llama.cpp, upstream, onnx)`);
  }
  if (typeof e.path !== 'string' || e.path.length === 0) {
    throw new ModelsFileError(`${at}: 'path' (the GGUF file) is required`);
  }
  if (e.threads === undefined) {
    throw new ModelsFileError(`${at}: 'threads' is required (the library default oversubscribes small machines)`);
  }
  const gpu = e.gpu_layers ?? 0;
  if (!(gpu === 'auto' || gpu === 'max' || (typeof gpu === 'number' && Number.isInteger(gpu) && gpu >= 0))) {
    throw new ModelsFileError(`${at}: 'gpu_layers' must be 'auto', 'max' or a count`);
  }
  const bool = (key: string, def: boolean): boolean => {
    const v = e[key] ?? def;
    if (typeof v !== 'boolean') throw new ModelsFileError(`${at}: '${key}' must be true or false`);
    return v;
  };
  const keepAliveMs = parseDurationMs(e.keep_alive ?? -1);
  if (keepAliveMs === undefined) {
    throw new ModelsFileError(`${at}: 'keep_alive' must be seconds or a duration like "5m" (-1 keeps it loaded)`);
  }
  const maxKeepAliveMs = e.max_keep_alive === undefined ? keepAliveMs : parseDurationMs(e.max_keep_alive);
  if (maxKeepAliveMs === undefined) {
    throw new ModelsFileError(`${at}: 'max_keep_alive' must be seconds or a duration like "1h" (-1: no cap)`);
  }
  if (holdLonger(keepAliveMs, maxKeepAliveMs) === keepAliveMs && keepAliveMs !== maxKeepAliveMs) {
    throw new ModelsFileError(`${at}: 'max_keep_alive' must not be shorter than 'keep_alive' (-1 is the longest)`);
  }
  const reasoning = e.reasoning ?? 'auto';
  if (reasoning !== 'auto' && typeof reasoning !== 'boolean') {
    throw new ModelsFileError(`${at}: 'reasoning' must be auto, true or false`);
  }
  const markers = e.reasoning_markers ?? ['<think>', '</think>'];
  if (!Array.isArray(markers) || markers.length !== 2 || markers.some((m) => typeof m !== 'string' || m.length === 0)) {
    throw new ModelsFileError(`${at}: 'reasoning_markers' must be two strings, the opening and closing markers`);
  }
  return {
    name,
    aliases: aliases as string[],
    backend: 'llama.cpp',
    path: isAbsolute(e.path) ? e.path : resolve(baseDir, e.path),
    contextSize: int(e, 'context_size', at, 4096, 16, 1 << 20),
    parallel: int(e, 'parallel', at, 1, 1, 256),
    threads: int(e, 'threads', at, 1, 1, 1024),
    gpuLayers: gpu as LlamaCppModelDescriptor['gpuLayers'],
    maxQueue: int(e, 'max_queue', at, 64, 0, 1_000_000),
    autoLoad: bool('auto_load', true),
    preload: bool('preload', true),
    keepAliveMs,
    ...(maxKeepAliveMs !== keepAliveMs ? { maxKeepAliveMs } : {}),
    reasoning,
    reasoningMarkers: markers as [string, string],
    created,
    ownedBy: typeof e.owned_by === 'string' ? e.owned_by : 'switchyard',
    ...(bool('embedding', false) ? { embedding: true } : {}),
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
  const list = (doc as Raw | null)?.models;
  if (!Array.isArray(list)) throw new ModelsFileError("top level must have a 'models' list");
  const models = list.map((entry, i) => parseEntry(entry, i, baseDir, created));
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
