/**
 * Upstream routing overhead: the same streamed chat completions sent (1) straight to an
 * OpenAI-compatible server and (2) through Switchyard (HTTP gateway → BullMQ/Redis → upstream worker
 * → the same server → Redis pub/sub → SSE), interleaved run by run so machine noise hits both. The
 * server is the project's scripted fake (tools/fake-openai.ts, its own process), so the upstream costs
 * next to nothing and the numbers show Switchyard's own cost:
 *
 *   - `fast-N`: N chunks as fast as the server can write them: the most chunks/s each path carries.
 *   - `pace-N-MS`: one chunk every MS ms, like a model decoding at 1000/MS tokens/s: what a client
 *     of a real upstream notices (time to first token, tokens/s).
 *
 *   npm run build && node dist/bench/upstream-bench.js [--runs 5] [--concurrency 1,8] [--markdown FILE]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startApp, startLocalRedis, stopProcess, waitUntil } from '@switchyard/runtime';
import { median } from './bench-stats';

const ROOT = resolve(__dirname, '..', '..');

interface Sample {
  ttftMs: number;
  totalMs: number;
  chunks: number;
}

async function stream(url: string, model: string): Promise<Sample> {
  const start = performance.now();
  const res = await fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'go' }], stream: true }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let first = 0;
  let chunks = 0;
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const chunk = JSON.parse(line.slice(6)) as { choices: Array<{ delta?: { content?: string } }>; error?: unknown };
      if (chunk.error) throw new Error(JSON.stringify(chunk.error));
      if (chunk.choices[0]?.delta?.content) {
        chunks++;
        if (first === 0) first = performance.now();
      }
    }
  }
  return { ttftMs: first - start, totalMs: performance.now() - start, chunks };
}

interface Phase {
  ttftMs: number;
  /** Content chunks per second per stream (median over the streams), from first to last byte. */
  streamTps: number;
  /** All streams' chunks per wall-clock second. */
  aggregateTps: number;
}

async function phase(url: string, model: string, concurrency: number): Promise<Phase> {
  const start = performance.now();
  const samples = await Promise.all(Array.from({ length: concurrency }, () => stream(url, model)));
  const wall = performance.now() - start;
  return {
    ttftMs: samples.reduce((s, x) => s + x.ttftMs, 0) / samples.length,
    streamTps: median(samples.map((s) => (s.chunks * 1000) / s.totalMs)),
    aggregateTps: (samples.reduce((s, x) => s + x.chunks, 0) * 1000) / wall,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, concurrency: { type: 'string' }, markdown: { type: 'string' }, scenarios: { type: 'string' } } });
  const runs = Number(values.runs ?? 5);
  const levels = (values.concurrency ?? '1,8').split(',').map(Number);
  const scenarios = (values.scenarios ?? 'fast-512,pace-100-10').split(',');
  const logs: string[] = [];
  const children: ChildProcess[] = [];
  const redis = await startLocalRedis();
  try {
    const fakePort = await freePort();
    const fake = spawn(process.execPath, [join(ROOT, 'dist/tools/fake-openai.js'), String(fakePort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(fake);
    const direct = `http://127.0.0.1:${fakePort}/v1`;
    await waitUntil(async () => (await fetch(`${direct}/models`)).ok, 10_000, 'the fake upstream');
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-upbench-'));
    const modelsFile = join(dir, 'models.yaml');
    // One gateway model per scenario: `up-<scenario>` asks the fake for the same script as direct calls.
    writeFileSync(
      modelsFile,
      ['models:', ...scenarios.map((sc) => `  - { name: up-${sc}, backend: upstream, base_url: "${direct}", upstream_model: ${sc}, concurrency: 64 }`)].join('\n') + '\n',
    );
    const port = await freePort();
    const common = { REDIS_URL: redis.url, MODELS_FILE: modelsFile, LOG_LEVEL: 'warn' };
    children.push(startApp(ROOT, 'gateway', { ...common, PORT: String(port), HOST: '127.0.0.1' }, logs));
    children.push(startApp(ROOT, 'upstream-worker', common, logs));
    const gateway = `http://127.0.0.1:${port}/v1`;
    await waitUntil(async () => ((await (await fetch(`${gateway}/models`)).json()) as { data: unknown[] }).data.length > 0, 20_000, 'the gateway', logs);
    const lines: string[] = [];
    for (const scenario of scenarios) {
      for (const c of levels) {
        const d: Phase[] = [];
        const g: Phase[] = [];
        await phase(direct, scenario, c);
        await phase(gateway, `up-${scenario}`, c).catch(() => undefined);
        for (let r = 0; r < runs; r++) {
          if (r % 2 === 0) {
            d.push(await phase(direct, scenario, c));
            g.push(await phase(gateway, `up-${scenario}`, c));
          } else {
            g.push(await phase(gateway, `up-${scenario}`, c));
            d.push(await phase(direct, scenario, c));
          }
        }
        const m = (xs: Phase[], k: keyof Phase): number => median(xs.map((x) => x[k]));
        const row = (name: string, xs: Phase[]): string => `| ${name} | ${m(xs, 'ttftMs').toFixed(1)} | ${m(xs, 'streamTps').toFixed(0)} | ${m(xs, 'aggregateTps').toFixed(0)} |`;
        lines.push(`#### ${scenario}, concurrency ${c} (${runs} runs, medians)`, '', '| path | TTFT ms | chunks/s per stream | chunks/s all streams |', '|---|---|---|---|');
        lines.push(row('direct to the upstream', d), row('through Switchyard', g));
        lines.push(`| Switchyard / direct | ${(m(g, 'ttftMs') / m(d, 'ttftMs')).toFixed(2)}x (+${(m(g, 'ttftMs') - m(d, 'ttftMs')).toFixed(1)} ms) | ${(m(g, 'streamTps') / m(d, 'streamTps')).toFixed(2)} | ${(m(g, 'aggregateTps') / m(d, 'aggregateTps')).toFixed(2)} |`, '');
        process.stdout.write(lines.slice(-8).join('\n') + '\n');
      }
    }
    if (values.markdown) writeFileSync(values.markdown, lines.join('\n') + '\n');
  } finally {
    await Promise.all(children.map((c) => stopProcess(c)));
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
