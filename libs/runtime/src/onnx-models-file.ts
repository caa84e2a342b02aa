/**
 * The models file's `backend: onnx` entries (models-file.ts parses the fields every backend shares
 * and hands these over). An ONNX model is a folder in Hugging Face's layout; `task` names the worker
 * plug-in that serves it.
 */
import { isAbsolute, resolve } from 'node:path';
import { ONNX_TASKS, type OnnxModelDescriptor, type OnnxTask } from '@switchyard/contracts';
import { parseDurationMs } from './duration';

/** OpenAI's moderation categories, which `categories` may map model labels to. */
export const OPENAI_MODERATION_CATEGORIES: readonly string[] = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
];

export interface EntryContext {
  name: string;
  aliases: string[];
  /** `models[i] (name)`, for messages. */
  at: string;
  baseDir: string;
  created: number;
  /** Builds the models file's error type. */
  fail: (message: string) => Error;
}

export function parseOnnxEntry(e: Record<string, unknown>, ctx: EntryContext): OnnxModelDescriptor {
  const { at, fail } = ctx;
  const int = (key: string, def: number, min: number, max: number): number => {
    const v = e[key] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw fail(`${at}: '${key}' must be an integer from ${min} to ${max}`);
    return v;
  };
  const bool = (key: string, def: boolean): boolean => {
    const v = e[key] ?? def;
    if (typeof v !== 'boolean') throw fail(`${at}: '${key}' must be true or false`);
    return v;
  };
  const task = e.task;
  if (typeof task !== 'string' || !ONNX_TASKS.includes(task as OnnxTask)) {
    throw fail(`${at}: 'task' is required for onnx models: one of ${ONNX_TASKS.join(', ')}`);
  }
  if (typeof e.path !== 'string' || e.path.length === 0) {
    throw fail(`${at}: 'path' (the model folder with config.json, tokenizer.json and onnx/) is required`);
  }
  const file = e.file ?? 'onnx/model.onnx';
  if (typeof file !== 'string' || file.length === 0 || isAbsolute(file)) throw fail(`${at}: 'file' must be a path inside the model folder`);
  const pooling = e.pooling ?? 'mean';
  if (pooling !== 'mean' && pooling !== 'cls') throw fail(`${at}: 'pooling' must be mean or cls`);
  const threshold = e.threshold ?? 0.5;
  if (typeof threshold !== 'number' || threshold < 0 || threshold > 1) throw fail(`${at}: 'threshold' must be a number from 0 to 1`);
  const keepAliveMs = parseDurationMs(e.keep_alive ?? -1);
  if (keepAliveMs === undefined) throw fail(`${at}: 'keep_alive' must be seconds or a duration like "5m" (-1 keeps it loaded)`);
  return {
    name: ctx.name,
    aliases: ctx.aliases,
    backend: 'onnx',
    task: task as OnnxTask,
    path: isAbsolute(e.path) ? e.path : resolve(ctx.baseDir, e.path),
    file,
    contextSize: int('context_size', 512, 2, 1 << 20),
    parallel: int('parallel', 32, 1, 1024),
    threads: int('threads', 1, 1, 1024),
    maxBatch: int('max_batch', 32, 1, 4096),
    batchWaitMs: int('batch_wait_ms', 2, 0, 1000),
    pooling,
    normalize: bool('normalize', true),
    matryoshka: bool('matryoshka', false),
    categories: parseCategories(e.categories, at, fail),
    threshold,
    maxQueue: int('max_queue', 256, 0, 1_000_000),
    autoLoad: bool('auto_load', true),
    preload: bool('preload', true),
    keepAliveMs,
    created: ctx.created,
    ownedBy: typeof e.owned_by === 'string' ? e.owned_by : 'switchyard',
  };
}

/** `categories: { toxic: harassment, threat: [violence, harassment/threatening] }`. */
function parseCategories(raw: unknown, at: string, fail: (m: string) => Error): Record<string, string[]> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail(`${at}: 'categories' must map model labels to OpenAI categories`);
  const out: Record<string, string[]> = {};
  for (const [label, value] of Object.entries(raw)) {
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || list.some((c) => typeof c !== 'string' || !OPENAI_MODERATION_CATEGORIES.includes(c))) {
      throw fail(`${at}: 'categories.${label}' must name OpenAI categories (${OPENAI_MODERATION_CATEGORIES.join(', ')})`);
    }
    out[label] = list as string[];
  }
  return out;
}
