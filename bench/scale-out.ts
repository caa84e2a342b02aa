/**
 * Scale-out on one machine: one redis-server, N gateways and M upstream workers as separate
 * processes, in front of the scripted fake OpenAI server (tools/fake-openai.ts, `fast-K`: K chunks
 * with no compute), so what is measured is Switchyard's serving path alone (HTTP, admission, BullMQ,
 * the pub/sub relay). For each (N, M) step a closed-loop load generator with keep-alive connections
 * spreads a fixed number of concurrent chat completions over the gateways round-robin, non-streaming
 * and streaming, and records requests/s, latency p50/p99, and the CPU every process used per request
 * (Redis from INFO cpu, the others from /proc), so the per-request costs and the first process to
 * fill a core show where a fleet would saturate.
 *
 *   npm run bench:scale-out -- [--grid full|edges | --steps 1x1,4x4] [--seconds 10] [--warmup 2] [--concurrency 32]
 *                              [--tokens 4] [--repeat 1x1,2x2,4x4] [--modes nonstream,stream]
 *                              [--token-sweep 16,64,256] [--quiet-wait 8] [--out FILE]
 *
 * The token sweep reruns 1 gateway × 1 worker with longer answers: the slope of each process's CPU
 * per request against the answer's length is its cost per token event (PUBLISH + XADD, relayed).
 *
 * JSON goes to .bench/scale-out-<time>.json (and .bench/scale-out.json, the latest).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { freePort, startApp, startLocalRedis, stopProcess, waitUntil } from '@switchyard/runtime';
import { fmt } from './bench-stats';
import { processCpuMs, systemBusyMs, waitForQuiet } from './cpu-usage';

const ROOT = resolve(__dirname, '..', '..');
/** One upstream model per answer length (`fast-K` answers K chunks). */
const modelFor = (tokens: number): string => `bench-${tokens}`;

type Mode = 'nonstream' | 'stream';

interface Step {
  gateways: number;
  workers: number;
}

/** CPU ms of one process group (all gateways, all workers, ...) over a step's measured window. */
interface CpuPerRole {
  redis: number;
  gateways: number;
  workers: number;
  upstream: number;
  loadgen: number;
}

interface StepResult extends Step {
  mode: Mode;
  /** Which part of the plan: 1 the grid, 2 its key points again, 3 the token sweep. */
  pass: number;
  tokens: number;
  seconds: number;
  requests: number;
  errors: number;
  firstError?: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Streaming only: time to the first content chunk. */
  ttftP50Ms?: number;
  /** CPU µs per successful request, per role (sum over that role's processes). */
  usPerRequest: CpuPerRole;
  /** All of the above together: two cores' worth of µs divided by this is the machine's ceiling. */
  totalUsPerRequest: number;
  redisCommandsPerRequest: number;
  /** The commands Redis ran most, per request (INFO commandstats deltas). */
  redisTopCommands: Record<string, number>;
  /** The process that used the largest share of one core, and that share (1 = a full core). */
  busiest: { name: string; coreShare: number };
  /** Each process's share of one core. */
  coreShares: Record<string, number>;
  /** Busy share of the whole machine (all cores), and the part used by programs other than ours. */
  machineBusy: number;
  foreignBusy: number;
  /** Whether other programs had gone quiet (under a third of a core) before the step began. */
  startedQuiet: boolean;
  loadBefore: string;
  loadAfter: string;
}

// ---------------------------------------------------------------------------------------------
// Load generator: node:http with one keep-alive agent per gateway (cheaper per request than fetch,
// which matters when the generator shares two cores with everything it measures).

interface Sample {
  endAt: number;
  ms: number;
  ttftMs?: number;
  ok: boolean;
  error?: string;
}

function oneRequest(agent: Agent, port: number, body: string, stream: boolean): Promise<Sample> {
  const start = performance.now();
  return new Promise((done) => {
    const finish = (ok: boolean, error?: string, ttftMs?: number): void => {
      const endAt = performance.now();
      done({ endAt, ms: endAt - start, ok, error, ttftMs });
    };
    const req = request(
      { host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        let ttft: number | undefined;
        res.setEncoding('utf8');
        res.on('data', (piece: string) => {
          if (stream && ttft === undefined && piece.includes('"content":"') && !piece.includes('"content":""')) ttft = performance.now() - start;
          text += piece;
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return finish(false, `HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
          if (stream) {
            // A stream that ends on an error event has no [DONE]; one that ends early has too few chunks.
            const ok = text.trimEnd().endsWith('data: [DONE]') && !text.includes('"error"');
            return finish(ok, ok ? undefined : `bad stream: ${text.slice(-200)}`, ttft);
          }
          try {
            const content = (JSON.parse(text) as { choices?: Array<{ message?: { content?: string } }> }).choices?.[0]?.message?.content;
            finish(typeof content === 'string' && content.length > 0, content ? undefined : `no content: ${text.slice(0, 200)}`);
          } catch {
            finish(false, `not JSON: ${text.slice(0, 200)}`);
          }
        });
        res.on('error', (err) => finish(false, err.message));
      },
    );
    req.on('error', (err) => finish(false, err.message));
    req.end(body);
  });
}

/**
 * Keeps `concurrency` requests in flight, gateway after gateway, until `endAt`; returns every sample.
 * Round-robin is per request, not per connection, so each gateway gets the same share of the load.
 */
async function closedLoop(ports: number[], agents: Agent[], concurrency: number, endAt: number, body: string, stream: boolean): Promise<Sample[]> {
  const samples: Sample[] = [];
  let next = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < endAt) {
      const i = next++ % ports.length;
      samples.push(await oneRequest(agents[i], ports[i], body, stream));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return samples;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

// ---------------------------------------------------------------------------------------------
// Redis counters

interface RedisCounters {
  cpuSec: number;
  commands: number;
  perCommand: Record<string, number>;
}

async function redisCounters(r: Redis): Promise<RedisCounters> {
  const info = await r.info('all');
  const field = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  const perCommand: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) perCommand[m[1]] = Number(m[2]);
  // This INFO call is itself a command; one per snapshot is noise next to thousands of requests.
  return { cpuSec: field('used_cpu_sys') + field('used_cpu_user'), commands: field('total_commands_processed'), perCommand };
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

// ---------------------------------------------------------------------------------------------
// The fleet: gateways and workers started and stopped between steps, Redis and the upstream kept.

class Fleet {
  readonly gateways: Array<{ child: ChildProcess; port: number }> = [];
  readonly workers: ChildProcess[] = [];
  private workerSerial = 0;

  constructor(
    private readonly env: Record<string, string>,
    private readonly redis: Redis,
    private readonly models: string[],
    readonly logs: string[],
  ) {}

  async resize(step: Step): Promise<void> {
    while (this.gateways.length > step.gateways) await stopProcess(this.gateways.pop()!.child);
    while (this.workers.length > step.workers) await stopProcess(this.workers.pop());
    const starting: Array<Promise<void>> = [];
    while (this.gateways.length < step.gateways) {
      const port = await freePort();
      const child = startApp(ROOT, 'gateway', { ...this.env, PORT: String(port), HOST: '127.0.0.1' }, this.logs);
      this.gateways.push({ child, port });
      starting.push(waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 60_000, `gateway on ${port}`, this.logs));
    }
    while (this.workers.length < step.workers) {
      this.workers.push(startApp(ROOT, 'upstream-worker', { ...this.env, WORKER_ID: `scale-${this.workerSerial++}` }, this.logs));
    }
    await Promise.all(starting);
    await waitUntil(async () => (await this.readyWorkers()) === step.workers, 60_000, `${step.workers} ready workers`, this.logs);
    // Every gateway must see the whole fleet (its fleet view is cached for 250 ms) before load starts.
    await waitUntil(
      async () => {
        for (const g of this.gateways) if (!(await fetch(`http://127.0.0.1:${g.port}/health/ready`)).ok) return false;
        return true;
      },
      30_000,
      'ready gateways',
      this.logs,
    );
    await new Promise((r) => setTimeout(r, 500));
  }

  /** Workers whose heartbeat says every bench model is ready (stopped workers delete theirs). */
  private async readyWorkers(): Promise<number> {
    let ready = 0;
    for (const id of await this.redis.smembers('switchyard:workers')) {
      const hb = await this.redis.get(`switchyard:worker:${id}`);
      const held = hb ? (JSON.parse(hb) as { models: Array<{ name: string; state: string }> }).models : [];
      if (this.models.every((name) => held.some((m) => m.name === name && m.state === 'ready'))) ready++;
    }
    return ready;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.gateways.map((g) => stopProcess(g.child)), ...this.workers.map((w) => stopProcess(w))]);
  }
}

// ---------------------------------------------------------------------------------------------

interface Options {
  seconds: number;
  warmup: number;
  concurrency: number;
  tokens: number;
  /** How long a step may wait for other programs on the machine to go quiet before it starts anyway. */
  quietWaitMs: number;
}

async function measureStep(fleet: Fleet, redis: Redis, redisPid: number | undefined, upstreamPid: number | undefined, step: Step, mode: Mode, pass: number, tokens: number, o: Options): Promise<StepResult> {
  const ports = fleet.gateways.map((g) => g.port);
  const agents = ports.map(() => new Agent({ keepAlive: true, maxSockets: o.concurrency }));
  const stream = mode === 'stream';
  const body = JSON.stringify({ model: modelFor(tokens), messages: [{ role: 'user', content: 'go' }], max_tokens: tokens, stream });
  const pids: Record<string, number | undefined> = { redis: redisPid, upstream: upstreamPid, loadgen: process.pid };
  fleet.gateways.forEach((g, i) => (pids[`gateway-${i}`] = g.child.pid));
  fleet.workers.forEach((w, i) => (pids[`worker-${i}`] = w.pid));
  const cpuOf = (): Record<string, number> => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuMs(pid)]));

  // Other programs (builds, test runs) share these cores; a step that starts in the middle of one
  // measures them too, so it waits a little for quiet and says whether it got it.
  const startedQuiet = await waitForQuiet(pids, 1 / 3, o.quietWaitMs);
  const loadBefore = loadavg();
  const t0 = performance.now() + o.warmup * 1000;
  const t1 = t0 + o.seconds * 1000;
  // The snapshots are taken inside the closed loop's run, at t0 and t1, so the load is steady across both.
  let before: { cpu: Record<string, number>; busy: number; redis: RedisCounters } | undefined;
  let after: typeof before;
  const snap = async (): Promise<NonNullable<typeof before>> => ({ cpu: cpuOf(), busy: systemBusyMs(), redis: await redisCounters(redis) });
  const snapshots = (async () => {
    await new Promise((r) => setTimeout(r, t0 - performance.now()));
    before = await snap();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, t1 - performance.now()));
    after = await snap();
    return performance.now() - w0;
  })();
  const [samples, wallMs] = await Promise.all([closedLoop(ports, agents, o.concurrency, t1, body, stream), snapshots]);
  for (const a of agents) a.destroy();
  if (!before || !after) throw new Error('snapshots missing');

  const inWindow = samples.filter((s) => s.endAt >= t0 && s.endAt <= t1);
  const ok = inWindow.filter((s) => s.ok);
  const errors = inWindow.length - ok.length;
  const lat = ok.map((s) => s.ms).sort((a, b) => a - b);
  const ttft = ok.map((s) => s.ttftMs).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  const n = Math.max(1, ok.length);
  const cpuMs: Record<string, number> = Object.fromEntries(Object.keys(pids).map((k) => [k, after!.cpu[k] - before!.cpu[k]]));
  // Redis from its own counters (INFO cpu, all of its threads), as an operator would read them.
  cpuMs.redis = (after.redis.cpuSec - before.redis.cpuSec) * 1000;
  const sum = (prefix: string): number => Object.entries(cpuMs).filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
  const coreShares = Object.fromEntries(Object.entries(cpuMs).map(([k, v]) => [k, v / wallMs]));
  const [busiestName, busiestShare] = Object.entries(coreShares).sort((a, b) => b[1] - a[1])[0];
  const ours = Object.values(cpuMs).reduce((a, b) => a + b, 0);
  const busyMs = after.busy - before.busy;
  const cores = cpus().length;
  const perCommand: Record<string, number> = {};
  for (const [cmd, calls] of Object.entries(after.redis.perCommand)) {
    const d = calls - (before.redis.perCommand[cmd] ?? 0);
    if (d > 0) perCommand[cmd] = d / n;
  }
  const top = Object.fromEntries(
    Object.entries(perCommand)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([k, v]) => [k, Number(v.toFixed(2))]),
  );
  return {
    ...step,
    mode,
    pass,
    tokens,
    seconds: wallMs / 1000,
    requests: ok.length,
    errors,
    firstError: inWindow.find((s) => !s.ok)?.error,
    rps: (ok.length * 1000) / wallMs,
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    ...(stream ? { ttftP50Ms: quantile(ttft, 0.5) } : {}),
    usPerRequest: {
      redis: (cpuMs.redis * 1000) / n,
      gateways: (sum('gateway-') * 1000) / n,
      workers: (sum('worker-') * 1000) / n,
      upstream: (cpuMs.upstream * 1000) / n,
      loadgen: (cpuMs.loadgen * 1000) / n,
    },
    totalUsPerRequest: (ours * 1000) / n,
    redisCommandsPerRequest: (after.redis.commands - before.redis.commands) / n,
    redisTopCommands: top,
    busiest: { name: busiestName, coreShare: busiestShare },
    coreShares,
    machineBusy: busyMs / (wallMs * cores),
    foreignBusy: Math.max(0, busyMs - ours) / (wallMs * cores),
    startedQuiet,
    loadBefore,
    loadAfter: loadavg(),
  };
}

const HEADER =
  '| mode | tokens | N gw | M wk | req/s | p50 ms | p99 ms | err | Redis µs/req | Redis cmds/req | gateway µs/req | worker µs/req | upstream µs/req | loadgen µs/req | total µs/req | busiest (core) | machine busy | other programs | load 1m before→after |';
const RULE = `|${'---|'.repeat(HEADER.split('|').length - 2)}`;

function row(r: StepResult): string {
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  return `| ${r.mode}${r.pass === 2 ? ' (again)' : ''} | ${r.tokens} | ${r.gateways} | ${r.workers} | ${fmt(r.rps, 0)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${r.errors} | ${fmt(r.usPerRequest.redis, 0)} | ${fmt(r.redisCommandsPerRequest, 1)} | ${fmt(r.usPerRequest.gateways, 0)} | ${fmt(r.usPerRequest.workers, 0)} | ${fmt(r.usPerRequest.upstream, 0)} | ${fmt(r.usPerRequest.loadgen, 0)} | ${fmt(r.totalUsPerRequest, 0)} | ${r.busiest.name} ${pct(r.busiest.coreShare)} | ${pct(r.machineBusy)} | ${pct(r.foreignBusy)}${r.startedQuiet ? '' : ' (busy at start)'} | ${r.loadBefore.split(' ')[0]}→${r.loadAfter.split(' ')[0]} |`;
}

/** Least-squares line through the points: y = intercept + slope × x. */
function fitLine(points: Array<[number, number]>): { slope: number; intercept: number } {
  const n = points.length;
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN };
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? Number.NaN : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}

interface PerToken {
  /** Redis µs per request with no tokens at all (the line's intercept): the job's own cost. */
  redisFixed: number;
  redis: number;
  commands: number;
  gateways: number;
  workers: number;
}

function tokenSlopes(rows: StepResult[], modes: Mode[]): Record<string, PerToken> {
  const out: Record<string, PerToken> = {};
  for (const mode of modes) {
    const rs = rows.filter((r) => r.mode === mode);
    if (new Set(rs.map((r) => r.tokens)).size < 2) continue;
    const of = (f: (r: StepResult) => number): number => fitLine(rs.map((r) => [r.tokens, f(r)])).slope;
    out[mode] = { redisFixed: fitLine(rs.map((r) => [r.tokens, r.usPerRequest.redis])).intercept, redis: of((r) => r.usPerRequest.redis), commands: of((r) => r.redisCommandsPerRequest), gateways: of((r) => r.usPerRequest.gateways), workers: of((r) => r.usPerRequest.workers) };
  }
  return out;
}

function parseStep(s: string): Step {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`a step is NxM (gateways x workers), not '${s}'`);
  return { gateways: Number(m[1]), workers: Number(m[2]) };
}

/**
 * The grid walked so that each step changes as few processes as possible: N=1 with M rising, then
 * N=2 with M falling, then N=4 with M rising. `edges` keeps N=1 and M=1 and the diagonal.
 */
function gridSteps(grid: string): Step[] {
  const walk: Step[] = [];
  [1, 2, 4].forEach((n, i) => {
    const ms = i % 2 === 0 ? [1, 2, 4] : [4, 2, 1];
    for (const m of ms) walk.push({ gateways: n, workers: m });
  });
  if (grid === 'full') return walk;
  if (grid === 'edges') return walk.filter((s) => s.gateways === 1 || s.workers === 1 || s.gateways === s.workers);
  throw new Error(`--grid is full or edges, not '${grid}'`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      grid: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      tokens: { type: 'string' },
      repeat: { type: 'string' },
      steps: { type: 'string' },
      'token-sweep': { type: 'string' },
      'quiet-wait': { type: 'string' },
      modes: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const o: Options = {
    seconds: Number(values.seconds ?? 10),
    warmup: Number(values.warmup ?? 2),
    concurrency: Number(values.concurrency ?? 32),
    tokens: Number(values.tokens ?? 4),
    quietWaitMs: Number(values['quiet-wait'] ?? 8) * 1000,
  };
  const modes = (values.modes ?? 'nonstream,stream').split(',') as Mode[];
  for (const m of modes) if (m !== 'nonstream' && m !== 'stream') throw new Error(`--modes takes nonstream and stream, not '${String(m)}'`);
  const steps = values.steps !== undefined ? values.steps.split(',').map(parseStep) : gridSteps(values.grid ?? 'full');
  // The key points run a second time at the end, after the machine's load has moved on, so a figure
  // that only one noisy window produced shows up as a disagreement between the two passes.
  const repeats = (values.repeat ?? '1x1,2x2,4x4').split(',').filter(Boolean).map(parseStep);
  const sweep = (values['token-sweep'] ?? '16,64,256').split(',').filter(Boolean).map(Number);
  const plan: Array<Step & { pass: number; tokens: number }> = [
    ...steps.map((s) => ({ ...s, pass: 1, tokens: o.tokens })),
    ...repeats.map((s) => ({ ...s, pass: 2, tokens: o.tokens })),
    ...sweep.map((tokens) => ({ gateways: 1, workers: 1, pass: 3, tokens })),
  ];
  const lengths = [...new Set([o.tokens, ...sweep])];

  const logs: string[] = [];
  const local = await startLocalRedis();
  const redis = new Redis(local.url);
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-scale-out-'));
  let upstream: ChildProcess | undefined;
  let fleet: Fleet | undefined;
  const results: StepResult[] = [];
  const started = new Date();
  try {
    const upstreamPort = await freePort();
    upstream = spawn(process.execPath, [join(ROOT, 'dist/tools/fake-openai.js'), String(upstreamPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}/v1`;
    await waitUntil(async () => (await fetch(`${upstreamUrl}/models`)).ok, 10_000, 'the fake upstream');
    const modelsFile = join(dir, 'models.yaml');
    // Each worker may run all the generator's requests at once, so slots never limit a step; the
    // queue bound is far above them, so no request is refused with 429.
    writeFileSync(
      modelsFile,
      `models:\n${lengths.map((k) => `  - { name: ${modelFor(k)}, backend: upstream, base_url: "${upstreamUrl}", upstream_model: fast-${k}, concurrency: ${o.concurrency}, max_queue: 10000 }\n`).join('')}`,
    );
    fleet = new Fleet({ REDIS_URL: local.url, MODELS_FILE: modelsFile, LOG_LEVEL: 'warn' }, redis, lengths.map(modelFor), logs);
    process.stdout.write(
      `scale-out: ${plan.length} steps × ${modes.length} modes, ${o.warmup}+${o.seconds} s each, ${o.concurrency} concurrent, ${o.tokens} tokens, ${cpus().length} cores, load ${loadavg()}\n\n${HEADER}\n${RULE}\n`,
    );
    for (const step of plan) {
      await fleet.resize(step);
      for (const mode of modes) {
        const r = await measureStep(fleet, redis, local.process.pid, upstream.pid, step, mode, step.pass, step.tokens, o);
        results.push(r);
        process.stdout.write(`${row(r)}\n`);
        if (r.errors > 0) process.stdout.write(`  first error: ${r.firstError}\n`);
      }
    }
  } finally {
    await fleet?.stop();
    await stopProcess(upstream);
    redis.disconnect();
    await local.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const redisUs = results.filter((r) => r.tokens === o.tokens).map((r) => r.usPerRequest.redis).sort((a, b) => a - b);
  const medianRedisUs = redisUs[redisUs.length >> 1];
  process.stdout.write(
    `\nRedis CPU per request: ${fmt(redisUs[0], 0)}–${fmt(redisUs[redisUs.length - 1], 0)} µs (median ${fmt(medianRedisUs, 0)}): one Redis core carries about ${fmt(1e6 / medianRedisUs, 0)} requests/s of this shape.\n`,
  );
  for (const mode of modes) {
    const first = results.find((r) => r.mode === mode && r.gateways === 1 && r.workers === 1);
    if (first) process.stdout.write(`Redis commands per ${mode} request at 1x1: ${JSON.stringify(first.redisTopCommands)}\n`);
  }
  const perToken = tokenSlopes(results.filter((r) => r.gateways === 1 && r.workers === 1 && (r.pass === 3 || r.pass === 1)), modes);
  for (const [mode, slope] of Object.entries(perToken)) {
    process.stdout.write(
      `per token event (${mode}, 1x1, slope over ${lengths.join('/')} tokens): Redis ${fmt(slope.redis, 1)} µs (plus ${fmt(slope.redisFixed, 0)} µs per request), ${fmt(slope.commands, 1)} commands; gateway ${fmt(slope.gateways, 1)} µs; worker ${fmt(slope.workers, 1)} µs\n`,
    );
  }
  const report = { started: started.toISOString(), cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, options: o, modes, perToken, results };
  const outDir = join(ROOT, '.bench');
  mkdirSync(outDir, { recursive: true });
  const file = values.out ?? join(outDir, `scale-out-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(outDir, 'scale-out.json'), JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`wrote ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
