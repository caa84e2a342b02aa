/**
 * Starts a real Switchyard stack for end-to-end tests: a private redis-server, generated tiny GGUF
 * models, the compiled gateway and llm worker as their own processes. Nothing is mocked.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import { freePort, startApp as spawnApp, startLocalRedis, stopProcess as stopChild, waitUntil as waitFor, type AppName, type LocalRedis } from '@switchyard/runtime';
import { generateBertModel, generateLlamaModel, type GenerateBertModelOptions, type GenerateLlamaModelOptions } from '@switchyard/model-gen';

export const ROOT = resolve(__dirname, '../..');
export const SHARED_MODELS = process.env.SWITCHYARD_SHARED_MODELS ?? resolve(ROOT, '../shared/models');
export const STORIES_GGUF = join(SHARED_MODELS, 'stories260K.gguf');

const CACHE = join(tmpdir(), 'switchyard-test-models');

let generatorVersion: string | undefined;
/** A hash of libs/model-gen's sources: a changed generator never serves a model cached by an older one. */
function modelGenVersion(): string {
  if (generatorVersion === undefined) {
    const hash = createHash('sha256');
    const src = join(ROOT, 'libs', 'model-gen', 'src');
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts')).sort();
    for (const f of files) hash.update(f).update('\0').update(readFileSync(join(src, f))).update('\0');
    generatorVersion = hash.digest('hex');
  }
  return generatorVersion;
}

/** The cache's name for a model: its name and a hash of its options and the generator's version. */
function cacheKey(name: string, options: object): string {
  const hash = createHash('sha256').update(modelGenVersion()).update(JSON.stringify(options)).digest('hex').slice(0, 16);
  return `${name}-${hash}`;
}

/** Generates (once per machine, cached by options and generator version) a tiny model and returns its path. */
export async function tinyModel(name: string, options: Omit<GenerateLlamaModelOptions, 'path'> = {}): Promise<string> {
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, `${cacheKey(name, options)}.gguf`);
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.tmp`;
    await generateLlamaModel({ shape: 'tiny', seed: 7, name, ...options, path: tmp });
    renameSync(tmp, path);
  }
  return path;
}

/** Generates (once per machine, cached by options and generator version) a tiny random-weight ONNX model folder. */
export function tinyOnnxModel(name: string, options: Omit<GenerateBertModelOptions, 'dir'>): string {
  const dir = join(CACHE, 'onnx', cacheKey(name, options));
  if (!existsSync(join(dir, 'onnx', 'model.onnx'))) {
    mkdirSync(join(CACHE, 'onnx'), { recursive: true });
    // Written beside it and renamed into place: two suites generating it at once never see half of one.
    const tmp = `${dir}.${process.pid}.tmp`;
    generateBertModel({ ...options, dir: tmp });
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // the other suite's copy won
    }
  }
  return dir;
}

/** An `backend: onnx` entry of the models file (snake_case fields as written there). */
export interface OnnxModelEntry {
  name: string;
  path: string;
  task: 'embeddings' | 'classifier' | 'reranker' | 'speech-recognition' | 'text-to-speech' | 'image-generation';
  aliases?: string[];
  context_size?: number;
  parallel?: number;
  threads?: number;
  max_batch?: number;
  batch_wait_ms?: number;
  pooling?: 'mean' | 'cls';
  normalize?: boolean;
  matryoshka?: boolean;
  categories?: Record<string, string[]>;
  threshold?: number;
  preload?: boolean;
  auto_load?: boolean;
  max_queue?: number;
  /** speech-recognition: the models file's Whisper keys (null turns a check off). */
  dtype?: string;
  temperature_fallback?: number[];
  compression_ratio_threshold?: number | null;
  logprob_threshold?: number | null;
  no_speech_threshold?: number | null;
  max_duration?: number;
  /** text-to-speech: the models file's voice keys. */
  engine?: string;
  tokens?: string;
  data_dir?: string;
  voices?: Record<string, number>;
  speakers?: number;
  max_input?: number;
  /** image-generation: the models file's image keys. */
  default_size?: string;
  min_side?: number;
  max_side?: number;
  size_multiple?: number;
  quality_steps?: { low?: number; medium?: number; high?: number };
  max_steps?: number;
  guidance_scale?: number;
  scheduler?: string;
  strength?: number;
}

export interface ModelEntry {
  name: string;
  path: string;
  aliases?: string[];
  context_size?: number;
  parallel?: number;
  threads?: number;
  max_queue?: number;
  preload?: boolean;
  auto_load?: boolean;
  keep_alive?: string | number;
  max_keep_alive?: string | number;
  /** A GGUF embedding model (served by /v1/embeddings). */
  embedding?: boolean;
}

export interface StackOptions {
  models: ModelEntry[];
  gatewayEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
  /** Start no worker (for 503 tests). */
  noWorker?: boolean;
  /** Number of llm workers (default 1), with ids worker-0, worker-1, ... */
  workers?: number;
  /** Raw YAML lines appended to the models list (e.g. upstream entries), indented as list items. */
  extraModelsYaml?: string[];
  /** Also start an upstream worker (id upstream-0) with this extra env. */
  upstreamWorker?: Record<string, string>;
  /** ONNX models, served by onnx workers (ids onnx-0, ...). */
  onnxModels?: OnnxModelEntry[];
  /** Number of onnx workers (default 1 when there are onnx models). */
  onnxWorkers?: number;
}

export interface Stack {
  baseUrl: string;
  modelsFile: string;
  redis: LocalRedis;
  gateway: ChildProcess;
  /** The first worker, and all of them. */
  worker?: ChildProcess;
  workers: ChildProcess[];
  logs: string[];
  /** Starts one more llm worker with this id. */
  addWorker(id: string, env?: Record<string, string>): ChildProcess;
  /** Starts one more onnx worker with this id. */
  addOnnxWorker(id: string, env?: Record<string, string>): ChildProcess;
  /** Starts one more gateway replica on the same Redis and models file; resolves with its base URL once healthy. */
  addGateway(env?: Record<string, string>): Promise<string>;
  stop(): Promise<void>;
}

function startApp(app: AppName, env: Record<string, string>, logs: string[]): ChildProcess {
  return spawnApp(ROOT, app, env, logs);
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'));
  const modelsFile = join(dir, 'models.yaml');
  const yaml = ['models:'];
  for (const m of options.models) {
    yaml.push(`  - name: ${JSON.stringify(m.name)}`);
    if (m.aliases) yaml.push(`    aliases: ${JSON.stringify(m.aliases)}`);
    yaml.push(`    path: ${JSON.stringify(m.path)}`);
    yaml.push(`    context_size: ${m.context_size ?? 1024}`);
    yaml.push(`    parallel: ${m.parallel ?? 4}`);
    yaml.push(`    threads: ${m.threads ?? 1}`);
    if (m.max_queue !== undefined) yaml.push(`    max_queue: ${m.max_queue}`);
    if (m.preload !== undefined) yaml.push(`    preload: ${m.preload}`);
    if (m.auto_load !== undefined) yaml.push(`    auto_load: ${m.auto_load}`);
    if (m.keep_alive !== undefined) yaml.push(`    keep_alive: ${JSON.stringify(m.keep_alive)}`);
    if (m.max_keep_alive !== undefined) yaml.push(`    max_keep_alive: ${JSON.stringify(m.max_keep_alive)}`);
    if (m.embedding !== undefined) yaml.push(`    embedding: ${m.embedding}`);
  }
  for (const m of options.onnxModels ?? []) {
    const { name, ...fields } = m;
    yaml.push(`  - name: ${JSON.stringify(name)}`, '    backend: onnx');
    for (const [key, value] of Object.entries(fields)) yaml.push(`    ${key}: ${JSON.stringify(value)}`);
  }
  yaml.push(...(options.extraModelsYaml ?? []));
  if (yaml.length === 1) yaml[0] = 'models: []';
  writeFileSync(modelsFile, yaml.join('\n') + '\n');
  const redis = await startLocalRedis();
  const port = await freePort();
  const logs: string[] = [];
  const common = { REDIS_URL: redis.url, MODELS_FILE: modelsFile, LOG_LEVEL: 'warn' };
  const gateway = startApp('gateway', { ...common, PORT: String(port), HOST: '127.0.0.1', WORKER_WAIT_MS: '2000', ...options.gatewayEnv }, logs);
  const workerEnv = { ...common, LLAMA_GPU: 'false', ...options.workerEnv };
  const workers: ChildProcess[] = [];
  const baseUrl = `http://127.0.0.1:${port}`;
  const stack: Stack = {
    baseUrl,
    modelsFile,
    redis,
    gateway,
    workers,
    logs,
    addWorker: (id, env = {}) => {
      const child = startApp('llm-worker', { ...workerEnv, WORKER_ID: id, ...env }, logs);
      workers.push(child);
      stack.worker ??= child;
      return child;
    },
    addOnnxWorker: (id, env = {}) => {
      const child = startApp('onnx-worker', { ...common, WORKER_ID: id, ...env }, logs);
      workers.push(child);
      return child;
    },
    addGateway: async (env = {}) => {
      const replicaPort = await freePort();
      workers.push(startApp('gateway', { ...common, PORT: String(replicaPort), HOST: '127.0.0.1', WORKER_WAIT_MS: '2000', ...options.gatewayEnv, ...env }, logs));
      const url = `http://127.0.0.1:${replicaPort}`;
      await waitFor(async () => (await fetch(`${url}/health`)).ok, 60_000, 'a second gateway', logs);
      return url;
    },
    stop: async () => {
      await Promise.all([stopChild(stack.gateway), ...workers.map((w) => stopChild(w))]);
      await redis.stop();
    },
  };
  if (options.upstreamWorker) workers.push(startApp('upstream-worker', { ...common, WORKER_ID: 'upstream-0', ...options.upstreamWorker }, logs));
  const count = options.noWorker ? 0 : (options.workers ?? 1);
  for (let i = 0; i < count; i++) stack.addWorker(`worker-${i}`);
  const onnxCount = options.onnxWorkers ?? ((options.onnxModels?.length ?? 0) > 0 ? 1 : 0);
  for (let i = 0; i < onnxCount; i++) stack.addOnnxWorker(`onnx-${i}`);
  const worker = stack.worker;
  try {
    await waitFor(async () => (await fetch(`${baseUrl}/health`)).ok, 60_000, 'the gateway', logs);
    const preloaded = options.models.filter((m) => m.preload !== false).map((m) => m.name);
    if (worker && preloaded.length > 0) await waitForWorker(stack, preloaded, count);
    const onnxPreloaded = (options.onnxModels ?? []).filter((m) => m.preload !== false).map((m) => m.name);
    if (onnxCount > 0 && onnxPreloaded.length > 0) await waitForWorker(stack, onnxPreloaded, onnxCount);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

/** The gateway's fleet-view cache (apps/gateway/src/worker-registry.service.ts, CACHE_MS). */
const FLEET_CACHE_MS = 250;

/** Waits until `workers` live workers each say every named model is ready, and the gateway sees them. */
export async function waitForWorker(stack: Stack, models: string[], workers = 1): Promise<void> {
  const r = new Redis(stack.redis.url);
  try {
    await waitFor(
      async () => {
        const ids = await r.smembers('switchyard:workers');
        let complete = 0;
        for (const id of ids) {
          const v = await r.get(`switchyard:worker:${id}`);
          if (!v) continue;
          const ready = new Set((JSON.parse(v) as { models: Array<{ name: string; state: string }> }).models.filter((m) => m.state === 'ready').map((m) => m.name));
          if (models.every((m) => ready.has(m))) complete++;
        }
        return complete >= workers;
      },
      60_000,
      `a worker serving ${models.join(', ')}`,
      stack.logs,
    );
    // The gateway caches its fleet view for 250 ms (WorkerRegistry's CACHE_MS); a /health read just
    // before the worker said ready would otherwise hide it from the next request.
    await new Promise((r) => setTimeout(r, FLEET_CACHE_MS + 50));
  } finally {
    r.disconnect();
  }
}

/** Reads an SSE response into its `data:` payloads. */
export async function readSse(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((block) => block.trim())
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length));
}

/** Busy slots over every live worker's heartbeat, of one model or all (a freed slot shows here within a heartbeat). */
export async function busySlots(stack: Stack, model?: string): Promise<number> {
  const r = new Redis(stack.redis.url);
  try {
    let busy = 0;
    for (const id of await r.smembers('switchyard:workers')) {
      const hb = JSON.parse((await r.get(`switchyard:worker:${id}`)) ?? '{"models":[]}') as { models: Array<{ name: string; busy: number }> };
      busy += hb.models.reduce((n, m) => n + (model === undefined || m.name === model ? m.busy : 0), 0);
    }
    return busy;
  } finally {
    r.disconnect();
  }
}
