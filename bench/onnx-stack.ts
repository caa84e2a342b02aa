/**
 * The gateway side of the onnx benches: a private redis-server, the gateway and one onnx worker
 * on a models file of the bench's entries, started and waited for until `readyModels` are loaded;
 * `stop` ends all three (also on SIGINT/SIGTERM). SWITCHYARD_BENCH_WORKER_LOG=info shows the
 * worker's own account when a phase fails.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startApp, startLocalRedis, stopProcess, waitUntil } from '@switchyard/runtime';
import { waitForReadyModels } from './worker-ready';

export interface OnnxBenchStack {
  baseUrl: string;
  redis: Awaited<ReturnType<typeof startLocalRedis>>;
  gateway: ChildProcess;
  worker: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

export async function startOnnxBenchStack(root: string, name: string, entries: string[], readyModels: number, log: (line: string) => void): Promise<OnnxBenchStack> {
  const modelsFile = join(mkdtempSync(join(tmpdir(), `switchyard-${name}-bench-`)), 'models.yaml');
  writeFileSync(modelsFile, ['models:', ...entries, ''].join('\n'));
  const redis = await startLocalRedis();
  const port = await freePort();
  const logs: string[] = [];
  const env = { REDIS_URL: redis.url, MODELS_FILE: modelsFile, LOG_LEVEL: 'warn' };
  const gateway = startApp(root, 'gateway', { ...env, PORT: String(port), HOST: '127.0.0.1' }, logs);
  const worker = startApp(root, 'onnx-worker', { ...env, LOG_LEVEL: process.env.SWITCHYARD_BENCH_WORKER_LOG ?? 'warn' }, logs);
  worker.once('exit', (code, signal) => log(`the onnx worker exited (code ${code}, signal ${signal})`));
  const baseUrl = `http://127.0.0.1:${port}`;
  const onSignal = (): void => {
    void stop().finally(() => process.exit(130));
  };
  const stop = async (): Promise<void> => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all([stopProcess(gateway), stopProcess(worker)]);
    await redis.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await waitUntil(async () => (await fetch(`${baseUrl}/health`)).ok, 30_000, 'the gateway', logs);
    await waitForReadyModels(redis.url, readyModels, 300_000, 'the onnx worker', logs);
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl, redis, gateway, worker, logs, stop };
}
