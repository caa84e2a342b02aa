/**
 * The full stack as separate processes (private redis-server, compiled llm worker and gateway) and
 * an OpenAI streaming client that timestamps SSE chunks as they arrive.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, startApp, startLocalRedis, stopProcess as stopChild, waitUntil as waitFor, type LocalRedis } from '@switchyard/runtime';
import type { StreamSample } from './bench-stats';

export interface StackOptions {
  root: string;
  modelName: string;
  modelPath: string;
  contextSize: number;
  parallel: number;
  threads: number;
}

export class GatewayStack {
  private constructor(
    readonly baseUrl: string,
    private readonly modelName: string,
    readonly redis: LocalRedis,
    readonly gateway: ChildProcess,
    readonly worker: ChildProcess,
    private readonly dir: string,
    readonly logs: string[],
  ) {}

  static async start(o: StackOptions): Promise<GatewayStack> {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
    const modelsFile = join(dir, 'models.yaml');
    writeFileSync(
      modelsFile,
      [
        'models:',
        `  - name: ${JSON.stringify(o.modelName)}`,
        `    path: ${JSON.stringify(o.modelPath)}`,
        `    context_size: ${o.contextSize}`,
        `    parallel: ${o.parallel}`,
        `    threads: ${o.threads}`,
        '',
      ].join('\n'),
    );
    const redis = await startLocalRedis();
    const port = await freePort();
    const logs: string[] = [];
    const common = { REDIS_URL: redis.url, MODELS_FILE: modelsFile, LOG_LEVEL: 'warn' };
    const gateway = startApp(o.root, 'gateway', { ...common, PORT: String(port), HOST: '127.0.0.1' }, logs);
    const worker = startApp(o.root, 'llm-worker', { ...common, LLAMA_GPU: 'false' }, logs);
    const stack = new GatewayStack(`http://127.0.0.1:${port}`, o.modelName, redis, gateway, worker, dir, logs);
    try {
      await waitFor(async () => (await fetch(`${stack.baseUrl}/health`)).ok, 30_000, 'the gateway', logs);
      await stack.waitForWorker();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  private async waitForWorker(): Promise<void> {
    const r = new Redis(this.redis.url);
    try {
      await waitFor(
        async () => {
          for (const id of await r.smembers('switchyard:workers')) {
            const v = await r.get(`switchyard:worker:${id}`);
            if (!v) continue;
            const models = (JSON.parse(v) as { models: Array<{ name: string; state: string }> }).models;
            if (models.some((m) => m.name === this.modelName && m.state === 'ready')) return true;
          }
          return false;
        },
        120_000,
        `a worker serving ${this.modelName}`,
        this.logs,
      );
    } finally {
      r.disconnect();
    }
  }

  /** Process ids for CPU accounting. */
  pids(): { gateway?: number; worker?: number; redis?: number } {
    return { gateway: this.gateway.pid, worker: this.worker.pid, redis: this.redis.process.pid };
  }

  async run(prompts: string[], maxTokens: number): Promise<StreamSample[]> {
    try {
      return await Promise.all(prompts.map((p) => this.stream(p, maxTokens)));
    } catch (err) {
      const exited = [this.gateway, this.worker]
        .filter((c) => c.exitCode !== null || c.signalCode !== null)
        .map((c) => `pid ${c.pid} exited (${c.exitCode ?? c.signalCode})`);
      throw new Error(`${(err as Error).message} ${(err as Error).cause ?? ''}\n${exited.join('\n')}\n${this.logs.slice(-40).join('')}`);
    }
  }

  private async stream(prompt: string, maxTokens: number): Promise<StreamSample> {
    const startAt = performance.now();
    const res = await fetch(`${this.baseUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: this.modelName,
        prompt,
        max_tokens: maxTokens,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    if (!res.ok || !res.body) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let firstAt = Number.NaN;
    let lastAt = Number.NaN;
    let tokens = Number.NaN;
    const times: number[] = [];
    let done = false;
    for (;;) {
      const { done: ended, value } = await reader.read();
      if (ended) break;
      const now = performance.now();
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut).trim();
        buffer = buffer.slice(cut + 2);
        if (!block.startsWith('data: ')) continue;
        const data = block.slice('data: '.length);
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = JSON.parse(data) as {
          choices?: Array<{ text?: string }>;
          usage?: { completion_tokens: number } | null;
          error?: { message: string };
        };
        if (chunk.error) throw new Error(`stream error: ${chunk.error.message}`);
        if (chunk.choices?.some((c) => (c.text ?? '').length > 0)) {
          if (Number.isNaN(firstAt)) firstAt = now;
          lastAt = now;
          times.push(now);
        }
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
    }
    if (!done) throw new Error('stream ended without [DONE]');
    if (Number.isNaN(tokens)) throw new Error('no usage chunk (stream_options.include_usage)');
    return { startAt, firstAt, lastAt, tokens, chunks: times.length, times };
  }

  async stop(): Promise<void> {
    await Promise.all([stopChild(this.gateway), stopChild(this.worker)]);
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
