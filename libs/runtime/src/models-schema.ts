/**
 * Checks a parsed models file against models.schema.json (the schema editors complete from) and
 * turns the first problem into one line in the models file's style: `models[2] (qwen): unknown key
 * 'thread' (did you mean 'threads'?)`. The parsers then only convert what the schema admitted.
 */
import Ajv, { type ErrorObject } from 'ajv';
import { parseDurationMs } from './duration';
import schemaJson from './models.schema.json';

/** The parts of a schema node the error lines are built from. */
interface SchemaNode {
  $ref?: string;
  type?: string | string[];
  minimum?: number;
  maximum?: number;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  default?: unknown;
  /** The text after the key in the error line. */
  'x-message'?: string;
  /** The text after the key when it is missing (default: its x-message, or "is required"). */
  'x-required'?: string;
}

export const MODELS_SCHEMA = schemaJson as unknown as SchemaNode & { definitions: Record<string, SchemaNode> };

/** Each backend's entry schema, by the `backend` value that selects it. */
export const BACKEND_SCHEMAS: Readonly<Record<'llama.cpp' | 'onnx' | 'upstream', SchemaNode>> = {
  'llama.cpp': MODELS_SCHEMA.definitions.llamaCpp,
  onnx: MODELS_SCHEMA.definitions.onnx,
  upstream: MODELS_SCHEMA.definitions.upstream,
};

// Compiled once; allErrors so an unknown key can be reported before the missing key it misspells.
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, strictNumbers: true, keywords: ['x-message', 'x-required'] }).compile(schemaJson);

/** Follows `$ref`s (JSON pointers into this schema). */
export function resolveRef(node: SchemaNode): SchemaNode {
  let n = node;
  while (n.$ref !== undefined) {
    let target: unknown = MODELS_SCHEMA;
    for (const seg of n.$ref.replace(/^#\//, '').split('/')) target = (target as Record<string, unknown>)[seg];
    n = target as SchemaNode;
  }
  return n;
}

/** What the error line says after a key that is present but wrong. */
export function invalidMessage(node: SchemaNode): string | undefined {
  const n = resolveRef(node);
  if (n['x-message'] !== undefined) return n['x-message'];
  if (n.type === 'integer') return `must be an integer from ${n.minimum} to ${n.maximum}`;
  if (n.type === 'boolean') return 'must be true or false';
  return undefined;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

function unknownKey(key: string, known: string[]): string {
  const scored = known.map((k) => ({ k, d: levenshtein(key.toLowerCase(), k) })).sort((x, y) => x.d - y.d);
  const best = scored[0];
  return best !== undefined && best.d <= 2 && best.d < key.length ? `unknown key '${key}' (did you mean '${best.k}'?)` : `unknown key '${key}'`;
}

interface Problem {
  /** The entry's index (-1: the top level), then how early to report it within the entry. */
  entry: number;
  rank: number;
  message: string;
}

const RANK = { mapping: 0, name: 1, backend: 2, unknownKey: 3, other: 4 };

function describe(doc: unknown, err: ErrorObject): Problem {
  const segs = err.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const missing = err.keyword === 'required' ? (err.params as { missingProperty: string }).missingProperty : undefined;
  const extra = err.keyword === 'additionalProperties' ? (err.params as { additionalProperty: string }).additionalProperty : undefined;
  if (segs.length < 2) {
    if (extra !== undefined) return { entry: -1, rank: RANK.unknownKey, message: `top level: ${unknownKey(extra, Object.keys(MODELS_SCHEMA.properties ?? {}))}` };
    return { entry: -1, rank: RANK.other, message: "top level must have a 'models' list" };
  }
  const index = Number(segs[1]);
  const where = `models[${index}]`;
  const entry = (doc as { models: unknown[] }).models[index];
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return { entry: index, rank: RANK.mapping, message: `${where}: must be a mapping` };
  const e = entry as Record<string, unknown>;
  if (segs[2] === 'name' || (segs.length === 2 && missing === 'name')) {
    return { entry: index, rank: RANK.name, message: `${where}: 'name' ${invalidMessage(MODELS_SCHEMA.definitions.name)}` };
  }
  const at = `${where} (${String(e.name)})`;
  const backend = e.backend ?? 'llama.cpp';
  const root = BACKEND_SCHEMAS[backend as keyof typeof BACKEND_SCHEMAS] as SchemaNode | undefined;
  if (root === undefined) {
    return { entry: index, rank: RANK.backend, message: `${at}: unknown backend '${String(backend)}' (supported: ${Object.keys(BACKEND_SCHEMAS).join(', ')})` };
  }
  // Walk the error's path through the backend's schema. A key is reported by the deepest named
  // node that has a message; items of a list of mappings (deployments) start a new `at`.
  let node = root;
  let where2 = at;
  let keys: string[] = [];
  let best = { at, keys: [] as string[], message: invalidMessage(root) };
  for (const seg of segs.slice(2)) {
    const n = resolveRef(node);
    let next: SchemaNode | undefined;
    if (/^\d+$/.test(seg) && n.items !== undefined) {
      next = resolveRef(n.items);
      if (next.type !== 'object') {
        node = next;
        continue;
      }
      where2 = `${where2} ${keys.join('.')}[${seg}]`;
      keys = [];
    } else {
      next = n.properties?.[seg] ?? (typeof n.additionalProperties === 'object' ? n.additionalProperties : undefined);
      keys = [...keys, seg];
    }
    if (next === undefined) break;
    node = next;
    const message = invalidMessage(node);
    if (message !== undefined) best = { at: where2, keys, message };
  }
  const obj = resolveRef(node);
  if (extra !== undefined) return { entry: index, rank: RANK.unknownKey, message: `${where2}: ${unknownKey(extra, Object.keys(obj.properties ?? {}))}` };
  if (missing !== undefined) {
    const prop = resolveRef(obj.properties?.[missing] ?? {});
    return { entry: index, rank: RANK.other, message: `${where2}: '${missing}' ${prop['x-required'] ?? prop['x-message'] ?? 'is required'}` };
  }
  const key = best.keys.length > 0 ? `'${best.keys.join('.')}' ` : '';
  return { entry: index, rank: RANK.other, message: `${best.at}: ${key}${best.message ?? 'is not valid'}` };
}

/** A duration the schema admitted (seconds or "5m"; -1 forever), in ms. */
export function durationMs(value: number | string | undefined, def: number): number {
  return value === undefined ? def : (parseDurationMs(value) ?? def);
}

/** The first problem of a parsed models file, as one line, or undefined when the schema admits it. */
export function modelsFileProblem(doc: unknown): string | undefined {
  if (validate(doc)) return undefined;
  const problems = (validate.errors ?? [])
    .filter((err) => err.keyword !== 'if')
    .map((err) => describe(doc, err))
    .sort((a, b) => a.entry - b.entry || a.rank - b.rank);
  return problems[0]?.message;
}
