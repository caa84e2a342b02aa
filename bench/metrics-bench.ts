/**
 * What metrics cost on the hot path: one Redis, two gateways and two llm workers in one run, the same
 * GGUF under two model names. Side `on`: gateway and worker with metrics (the default), scraped
 * every second (gateway /metrics and the worker's WORKER_HTTP_PORT /metrics, far more often than
 * Prometheus would). Side `off`: METRICS=off on both (no middleware, no job observations, no port).
 * Runs alternate the sides (odd runs start with `off`) so only one computes at a time and drift
 * hits both; reports medians of time to first token and decode tokens/s per side and the on/off
 * ratios.
 *
 *   npm run bench:metrics -- [--runs N] [--concurrency 1,4] [--max-tokens N] [--threads N] [--model FILE] [--markdown FILE]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, startApp, startLocalRedis, stopProcess, waitUntil } from '@switchyard/runtime';
import { fmt, median, phaseMetrics, type PhaseMetrics, type StreamSample } from './bench-stats';

const ROOT = resolve(__dirname, '..', '..');
const SIDES = ['on', 'off'] as const;
type Side = (typeof SIDES)[number];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : (process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] ?? fallback);
}

const RUNS = Number(arg('runs', '8'));
const CONCURRENCY = arg('concurrency', '1,4').split(',').map(Number);
const MAX_TOKENS = Number(arg('max-tokens', '128'));
const THREADS = Number(arg('threads', '1'));
const MODEL = resolve(arg('model', join(ROOT, '..', 'shared', 'models', 'stories260K.gguf')));
const MARKDOWN = arg('markdown', '');

/** Of sorted values. */
function quantile(sorted: number[], q: number): number {
  const ok = sorted.filter(Number.isFinite);
  return ok.length === 0 ? Number.NaN : ok[Math.min(ok.length - 1, Math.floor(q * ok.length))];
}

async function stream(baseUrl: string, model: string, prompt: string): Promise<StreamSample> {
  const startAt = performance.now();
  const res = await fetch(`${baseUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt, max_tokens: MAX_TOKENS, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok || !res.body) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let tokens = Number.NaN;
  const times: number[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const now = performance.now();
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 2);
      if (!block.startsWith('data: ') || block === 'data: [DONE]') continue;
      const chunk = JSON.parse(block.slice(6)) as { choices?: Array<{ text?: string }>; usage?: { completion_tokens: number } | null; error?: { message: string } };
      if (chunk.error) throw new Error(`stream error: ${chunk.error.message}`);
      if (chunk.choices?.some((c) => (c.text ?? '').length > 0)) times.push(now);
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  return { startAt, firstAt: times[0] ?? Number.NaN, lastAt: times[times.length - 1] ?? Number.NaN, tokens, chunks: times.length, times };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-metrics-bench-'));
  const modelsFile = join(dir, 'models.yaml');
  const parallel = Math.max(...CONCURRENCY);
  const entry = (name: string): string[] => [`  - name: ${name}`, `    path: ${JSON.stringify(MODEL)}`, '    context_size: 2048', `    parallel: ${parallel}`, `    threads: ${THREADS}`];
  writeFileSync(modelsFile, ['models:', ...entry('on'), ...entry('off'), ''].join('\n'));
  const redis = await startLocalRedis();
  const logs: string[] = [];
  const common = { REDIS_URL: redis.url, MODELS_FILE: modelsFile, LOG_LEVEL: 'warn' };
  const children: ChildProcess[] = [];
  const gateways = {} as Record<Side, string>;
  const workerPort = await freePort();
  try {
    for (const side of SIDES) {
      const port = await freePort();
      const metrics: Record<string, string> = side === 'on' ? {} : { METRICS: 'off' };
      children.push(startApp(ROOT, 'gateway', { ...common, ...metrics, PORT: String(port), HOST: '127.0.0.1' }, logs));
      const workerEnv: Record<string, string> = side === 'on' ? { WORKER_HTTP_PORT: String(workerPort), WORKER_HTTP_HOST: '127.0.0.1' } : { METRICS: 'off' };
      children.push(startApp(ROOT, 'llm-worker', { ...common, ...workerEnv, LLAMA_GPU: 'false', WORKER_ID: `bench-${side}`, WORKER_MODELS: side }, logs));
      gateways[side] = `http://127.0.0.1:${port}`;
    }
    for (const side of SIDES) {
      await waitUntil(async () => (await fetch(`${gateways[side]}/health/ready`)).ok, 120_000, `the ${side} side`, logs);
    }
    // Warm-up: one request per side and concurrency (first-use allocations are not what is measured).
    for (const side of SIDES) for (const c of CONCURRENCY) await Promise.all(Array.from({ length: c }, (_, i) => stream(gateways[side], side, `Warm ${c}.${i}. Once upon a time`)));
    let scrapes = 0;
    let scraping = false;
    const scraper = setInterval(() => {
      if (scraping) return;
      scraping = true;
      void Promise.all([fetch(`${gateways.on}/metrics`).then((r) => r.text()), fetch(`http://127.0.0.1:${workerPort}/metrics`).then((r) => r.text())])
        .then(() => scrapes++)
        .finally(() => (scraping = false));
    }, 1000);
    const results = new Map<string, PhaseMetrics[]>();
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? SIDES : ([...SIDES].reverse() as Side[]);
      for (const c of CONCURRENCY) {
        for (const side of order) {
          const samples = await Promise.all(Array.from({ length: c }, (_, i) => stream(gateways[side], side, `Request ${run}.${c}.${i}. Once upon a time`)));
          const key = `${side}:${c}`;
          results.set(key, [...(results.get(key) ?? []), phaseMetrics(samples)]);
        }
      }
      process.stdout.write(`run ${run + 1}/${RUNS} done\n`);
    }
    clearInterval(scraper);
    const lines = [
      `Model ${MODEL.split('/').pop()}, max_tokens ${MAX_TOKENS}, threads ${THREADS}, parallel ${parallel}, ${RUNS} runs per side and concurrency, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); ${scrapes} scrapes of the on side's gateway and worker during the runs.`,
      '',
      '| concurrency | TTFT ms on | TTFT ms off | TTFT on/off | decode tok/s on | decode tok/s off | decode on/off | per-run TTFT on/off, p25–p75 | per-run decode on/off, p25–p75 |',
      '|---|---|---|---|---|---|---|---|---|',
    ];
    for (const c of CONCURRENCY) {
      const on = results.get(`on:${c}`)!;
      const off = results.get(`off:${c}`)!;
      const ttft = (r: PhaseMetrics[]): number => median(r.map((m) => m.ttftMs));
      const tps = (r: PhaseMetrics[]): number => median(r.map((m) => m.streamDecodeTps));
      // Each run's two sides ran back to back: their ratio's spread over runs is the noise floor.
      const paired = (f: (m: PhaseMetrics) => number): string => {
        const r = on.map((m, i) => f(m) / f(off[i])).sort((a, b) => a - b);
        return `${fmt(quantile(r, 0.25), 3)}–${fmt(quantile(r, 0.75), 3)}`;
      };
      lines.push(
        `| ${c} | ${fmt(ttft(on))} | ${fmt(ttft(off))} | ${fmt(ttft(on) / ttft(off), 3)} | ${fmt(tps(on))} | ${fmt(tps(off))} | ${fmt(tps(on) / tps(off), 3)} | ${paired((m) => m.ttftMs)} | ${paired((m) => m.streamDecodeTps)} |`,
      );
    }
    const text = lines.join('\n') + '\n';
    process.stdout.write(`\n${text}`);
    if (MARKDOWN) writeFileSync(MARKDOWN, text);
  } finally {
    await Promise.all(children.map((c) => stopProcess(c)));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`metrics-bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
