/**
 * `npm start`: the whole service on one machine. Starts a private redis-server when REDIS_URL is not
 * set, generates the demo models the default models file names when they are missing, then runs the
 * gateway and one llm worker, plus an upstream worker when the file names upstream models and an onnx
 * worker when it has ONNX models, as child processes; restarts one that dies (see ChildSupervisor)
 * and stops them all together.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import type { ModelDescriptor } from '@switchyard/contracts';
import { dirname, join, resolve } from 'node:path';
import { exitWithFatal, loadModelsFile, Logger, ModelsFileError, RedisServerMissingError, startLocalRedis, type LocalRedis } from '@switchyard/runtime';
import { generateBertModel, generateDiffusionPipeline, generateLlamaModel, generateVitsModel, generateWhisperModel } from '@switchyard/model-gen';
import { ChildSupervisor, type SupervisedChild } from './child-supervisor';

const log = new Logger('launcher');
const ROOT = resolve(__dirname, '../../../..');
const DEFAULT_MODELS_FILE = join(ROOT, 'models.yaml');
const DEMO_MODEL = join(ROOT, 'models/generated/tiny-chat.gguf');
const DEMO_ONNX_DIR = join(ROOT, 'models/generated/onnx');

async function ensureDemoModel(modelsFile: string): Promise<ModelDescriptor[]> {
  const models = loadModelsFile(modelsFile);
  if (modelsFile !== DEFAULT_MODELS_FILE) return models;
  const usesDemo = models.some((m) => m.backend === 'llama.cpp' && resolve(m.path) === DEMO_MODEL);
  if (usesDemo && !existsSync(DEMO_MODEL)) {
    log.info('generating the demo model (tiny random weights, gibberish output)', { path: DEMO_MODEL });
    mkdirSync(dirname(DEMO_MODEL), { recursive: true });
    await generateLlamaModel({ path: DEMO_MODEL, shape: 'tiny', seed: 1, name: 'tiny-chat' });
  }
  // Demo ONNX models: random-weight BERT encoders, Whisper, a voice and a diffusion pipeline (real
  // shapes and serving, meaningless numbers).
  for (const m of models) {
    if (m.backend !== 'onnx' || dirname(resolve(m.path)) !== DEMO_ONNX_DIR || existsSync(join(m.path, m.file || 'model.onnx'))) continue;
    log.info('generating a demo ONNX model (tiny random weights)', { path: m.path, task: m.task });
    if (m.task === 'speech-recognition') generateWhisperModel({ dir: m.path, shape: 'tiny', seed: 1 });
    else if (m.task === 'text-to-speech') generateVitsModel({ dir: m.path, shape: 'tiny', seed: 1, speakers: m.voice?.speakers ?? 2 });
    else if (m.task === 'image-generation') await generateDiffusionPipeline({ dir: m.path, shape: 'tiny', seed: 1 });
    else generateBertModel({ dir: m.path, task: m.task, seed: 1 });
  }
  return models;
}

async function main(): Promise<void> {
  const modelsFile = resolve(process.env.MODELS_FILE ?? DEFAULT_MODELS_FILE);
  const models = await ensureDemoModel(modelsFile);
  let redis: LocalRedis | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    try {
      // Stopped by `stop` below once the apps have drained, not by the signal that stops the service.
      redis = await startLocalRedis({ ownProcessGroup: true });
    } catch (err) {
      if (err instanceof RedisServerMissingError) {
        exitWithFatal(
          'launcher',
          new Error('no REDIS_URL set and redis-server is not installed; install it (Debian/Ubuntu: sudo apt-get install -y redis-server) or set REDIS_URL=redis://host:6379'),
          true,
        );
      }
      throw err;
    }
    redisUrl = redis.url;
    log.info('started a private redis-server', { url: redisUrl });
  }
  const env = { ...process.env, REDIS_URL: redisUrl, MODELS_FILE: modelsFile };
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await supervisor.stop();
    await redis?.stop();
    process.exit(code);
  };
  // A child that dies (a crashed worker, an out-of-memory kill) is restarted; the others keep serving.
  const supervisor = new ChildSupervisor(log, (name) => {
    log.error('stopping the service: a child could not be kept running', { child: name });
    void stop(1);
  });
  // WORKER_HTTP_BASE_PORT gives each worker its probes and metrics port (base, base + 1, ...): one
  // WORKER_HTTP_PORT shared by every child would collide, so it is never passed on as is.
  const basePort = Number(process.env.WORKER_HTTP_BASE_PORT) || undefined;
  let workerPorts = 0;
  const app = (name: string, worker = true): SupervisedChild => {
    const childEnv: NodeJS.ProcessEnv = { ...env };
    delete childEnv.WORKER_HTTP_PORT;
    if (worker && basePort !== undefined) childEnv.WORKER_HTTP_PORT = String(basePort + workerPorts++);
    return { name, start: () => fork(join(ROOT, `dist/apps/${name}/src/main.js`), [], { env: childEnv, stdio: 'inherit' }) };
  };
  supervisor.add(app('llm-worker'));
  supervisor.add(app('gateway', false));
  // Upstream models (OpenAI-compatible servers) are served by their own worker, ONNX models by theirs.
  if (models.some((m) => m.backend === 'upstream')) supervisor.add(app('upstream-worker'));
  if (models.some((m) => m.backend === 'onnx')) supervisor.add(app('onnx-worker'));
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
}

main().catch((err: unknown) => {
  // A bad models file is the user's to fix: one line naming the key, no stack.
  exitWithFatal('launcher', err, err instanceof ModelsFileError);
});
