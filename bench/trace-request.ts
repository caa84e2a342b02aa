/**
 * Where a streamed request's time goes: starts the stack, warms it up, then sends requests while a
 * Redis MONITOR connection records every command with the server's microsecond timestamp, and prints
 * one request's timeline (client events and Redis commands, by connection) relative to the moment
 * the client sent it, plus per-stage medians over all traced requests.
 *
 *   npm run build && node dist/bench/trace-request.js [--shape tiny] [--threads 1] [--max-tokens 8]
 *     [--requests 10] [--model FILE]
 *
 * MONITOR itself slows Redis a little, so absolute numbers are slightly pessimistic.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import { generateLlamaModel, type LlamaShapeName } from '@switchyard/model-gen';
import { median } from './bench-stats';
import { GatewayStack } from './gateway-runner';

const ROOT = resolve(__dirname, '..', '..');

interface TraceEvent {
  /** Epoch ms (fractional). */
  at: number;
  who: string;
  what: string;
}

function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

async function modelFile(shape: LlamaShapeName): Promise<string> {
  const explicit = flag('model', '');
  if (explicit) return resolve(explicit);
  const path = join(ROOT, '.bench', `${shape}-q8_0.gguf`);
  if (!existsSync(path)) {
    mkdirSync(join(ROOT, '.bench'), { recursive: true });
    await generateLlamaModel({ path: `${path}.tmp`, shape, quant: 'q8_0', seed: 1 });
    renameSync(`${path}.tmp`, path);
  }
  return path;
}

async function streamOnce(stack: GatewayStack, prompt: string, maxTokens: number, events: TraceEvent[]): Promise<void> {
  events.push({ at: epochNow(), who: 'client', what: 'POST /v1/completions' });
  const res = await fetch(`${stack.baseUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'bench', prompt, max_tokens: maxTokens, temperature: 0, stream: true }),
  });
  events.push({ at: epochNow(), who: 'client', what: `response headers ${res.status}` });
  if (!res.body) throw new Error('no body');
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const text = decoder.decode(value, { stream: true });
    const blocks = text.split('\n\n').filter((b) => b.startsWith('data: '));
    events.push({ at: epochNow(), who: 'client', what: `read ${blocks.length} SSE event(s)${n++ === 0 ? ' (first)' : ''}` });
  }
  events.push({ at: epochNow(), who: 'client', what: 'stream ended' });
}

function describe(args: string[]): string {
  const [cmd, ...rest] = args;
  const short = rest.map((a) => (a.length > 40 ? `${a.slice(0, 37)}...` : a));
  if (/^evalsha$/i.test(cmd ?? '')) return `EVALSHA ${short.slice(2, 4).join(' ')}`;
  return `${cmd?.toUpperCase()} ${short.slice(0, 3).join(' ')}`;
}

async function main(): Promise<void> {
  const shape = flag('shape', 'tiny') as LlamaShapeName;
  const threads = Number(flag('threads', '1'));
  const maxTokens = Number(flag('max-tokens', '8'));
  const requests = Number(flag('requests', '10'));
  const modelPath = await modelFile(shape);
  const stack = await GatewayStack.start({ root: ROOT, modelName: 'bench', modelPath, contextSize: 1024, parallel: 4, threads });
  const admin = new Redis(stack.redis.url);
  // monitor() opens a second connection in monitor mode; both must be closed.
  const monitorBase = new Redis(stack.redis.url);
  let monitor: Redis | undefined;
  try {
    for (let i = 0; i < 3; i++) await streamOnce(stack, `Warm-up ${i}. Write a story.`, maxTokens, []);
    // Name each client address after its connection name so the timeline says who sent what.
    const names = new Map<string, string>();
    for (const line of ((await admin.call('CLIENT', 'LIST')) as string).split('\n')) {
      const addr = /addr=(\S+)/.exec(line)?.[1];
      const name = /name=(\S*)/.exec(line)?.[1];
      if (addr) names.set(addr, name || 'unnamed');
    }
    const redisEvents: TraceEvent[] = [];
    monitor = await monitorBase.monitor();
    monitor.on('monitor', (time: string, args: string[], source: string) => {
      redisEvents.push({ at: Number(time) * 1000, who: `redis<-${names.get(source) ?? source}`, what: describe(args) });
    });
    await new Promise((r) => setTimeout(r, 200));
    const stages: Record<string, number[]> = {};
    const stage = (name: string, ms: number): void => {
      (stages[name] ??= []).push(ms);
    };
    let last: TraceEvent[] = [];
    for (let i = 0; i < requests; i++) {
      const client: TraceEvent[] = [];
      redisEvents.length = 0;
      await streamOnce(stack, `Trace ${i}. Write the opening of a short story about a lighthouse keeper.`, maxTokens, client);
      await new Promise((r) => setTimeout(r, 100));
      const all = [...client, ...redisEvents].sort((a, b) => a.at - b.at);
      const t0 = client[0].at;
      const find = (pred: (e: TraceEvent) => boolean): number | undefined => all.find(pred)?.at;
      const add = find((e) => /EVALSHA/.test(e.what) && /gateway/.test(e.who));
      const taken = find((e) => /EVALSHA/.test(e.what) && /llm/.test(e.who) && e.at > (add ?? 0));
      const startPub = find((e) => e.what.startsWith('PUBLISH') && /llm-pub/.test(e.who));
      const publishes = all.filter((e) => e.what.startsWith('PUBLISH') && /llm-pub/.test(e.who));
      const firstDelta = publishes[1]?.at;
      const firstRead = client.find((e) => e.what.includes('(first)'))?.at;
      if (add !== undefined) stage('request sent → job added (gateway: HTTP, validation, checks, subscribe, add)', add - t0);
      if (add !== undefined && taken !== undefined) stage('job added → worker moves it to active (BullMQ pickup)', taken - add);
      if (taken !== undefined && startPub !== undefined) stage("job active → worker publishes 'start'", startPub - taken);
      if (startPub !== undefined && firstDelta !== undefined) stage("'start' → first delta published (prefill + first token)", firstDelta - startPub);
      if (firstDelta !== undefined && firstRead !== undefined) stage('first delta published → client reads first chunk (relay)', firstRead - firstDelta);
      if (firstRead !== undefined) stage('total time to first chunk', firstRead - t0);
      const gaps = publishes.slice(2).map((e, j) => e.at - publishes[j + 1].at);
      if (gaps.length > 0) stage('worker: between delta publishes (per token)', median(gaps));
      last = all.map((e) => ({ ...e, at: e.at - t0 }));
    }
    // Baseline: a bare HTTP round trip to the gateway (no body validation, no Redis).
    const health: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await (await fetch(`${stack.baseUrl}/health`)).text();
      health.push(performance.now() - t);
    }
    stage('GET /health round trip (HTTP floor, for comparison)', median(health));
    process.stdout.write(`Timeline of the last request (${shape}, threads ${threads}, max_tokens ${maxTokens}), ms from the client's send:\n`);
    for (const e of last) process.stdout.write(`${e.at.toFixed(3).padStart(9)}  ${e.who.padEnd(40)} ${e.what}\n`);
    process.stdout.write(`\nMedians over ${requests} requests (ms):\n`);
    for (const [name, values] of Object.entries(stages)) process.stdout.write(`${median(values).toFixed(2).padStart(8)}  ${name}\n`);
  } finally {
    monitor?.disconnect();
    monitorBase.disconnect();
    admin.disconnect();
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
