/**
 * Gateway fuzzer: starts its own loopback stack (private redis-server, gateway, two llm workers on a
 * generated tiny GGUF chat model and a GGUF embedding model, one onnx worker on tiny embeddings,
 * classifier and reranker models), sends seeded mutated requests to every route, and reports status
 * counts, 5xx, process exits, hangs and RSS. Exits nonzero when any 5xx, exit or hang was seen, so
 * it can gate a merge.
 *
 *   npm run fuzz -- [--seed N] [--cases N] [--concurrency C] [--timeout-ms MS] [--only I[,J...]]
 *                   [--target URL --api-key K --admin-key K] [--out FILE]
 *
 * A case depends only on (seed, index): `--seed S --only I` replays case I of a run.
 */
import { createConnection } from 'node:net';
import { request as httpRequest } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import { generateBertModel, generateLlamaModel } from '@switchyard/model-gen';
import { freePort, startApp, startLocalRedis, stopProcess, waitUntil, type AppName, type LocalRedis } from '@switchyard/runtime';
import { generateCase, MODELS, type FuzzCase, type Keys } from './fuzz-cases';

const ROOT = resolve(__dirname, '..', '..');
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const SNIPPET = 600;

interface Args {
  seed: number;
  cases: number;
  concurrency: number;
  timeoutMs: number;
  only?: number[];
  target?: string;
  keys: Keys;
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seed: 1, cases: 2400, concurrency: 6, timeoutMs: 30_000, keys: { user: 'fuzz-user-key', admin: 'fuzz-admin-key' } };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const int = (): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer`);
      return n;
    };
    if (flag === '--seed') args.seed = int();
    else if (flag === '--cases') args.cases = int();
    else if (flag === '--concurrency') args.concurrency = Math.max(1, int());
    else if (flag === '--timeout-ms') args.timeoutMs = Math.max(100, int());
    else if (flag === '--only') args.only = value.split(',').map(Number);
    else if (flag === '--target') args.target = value.replace(/\/$/, '');
    else if (flag === '--api-key') args.keys.user = value;
    else if (flag === '--admin-key') args.keys.admin = value;
    else if (flag === '--out') args.out = value;
    else throw new Error(`unknown argument '${flag}'`);
  }
  return args;
}

function log(msg: string): void {
  process.stderr.write(`[fuzz] ${msg}\n`);
}

// --- the stack ---------------------------------------------------------------------------------

interface ExitRecord {
  process: string;
  pid: number | undefined;
  code: number | null;
  signal: string | null;
  atMs: number;
  /** Cases in flight when it went, the likely culprits. */
  inFlight: number[];
  logTail: string;
  cause: 'exit' | 'killed-unresponsive';
}

function rssKb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** A child process that is restarted when it dies, with its exits and RSS recorded. */
class ManagedProcess {
  child!: ChildProcess;
  readonly logs: string[] = [];
  restarts = 0;
  peakRssKb = 0;
  private stopping = false;
  /** Resolves when a restart after an exit has finished and the process is ready again. */
  recovering: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly app: AppName,
    private readonly env: Record<string, string>,
    private readonly ready: () => Promise<void>,
    private readonly onExit: (p: ManagedProcess, code: number | null, signal: string | null) => void,
  ) {}

  start(): void {
    this.child = startApp(ROOT, this.app, this.env, this.logs);
    this.child.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.onExit(this, code, signal);
      this.recovering = this.restart();
    });
  }

  private async restart(): Promise<void> {
    this.restarts++;
    await new Promise((r) => setTimeout(r, 300));
    if (this.stopping) return;
    this.start();
    try {
      await this.ready();
    } catch (err) {
      log(`${this.name} did not come back: ${(err as Error).message.split('\n')[0]}`);
    }
    this.recovering = undefined;
  }

  /** Kills a process that stopped answering; the exit handler restarts it. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  sample(): number | undefined {
    const kb = rssKb(this.pid);
    if (kb !== undefined && kb > this.peakRssKb) this.peakRssKb = kb;
    return kb;
  }

  tail(lines = 30): string {
    return this.logs.join('').split('\n').slice(-lines).join('\n');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await stopProcess(this.child);
  }
}

class FuzzStack {
  readonly processes: ManagedProcess[] = [];
  readonly exits: ExitRecord[] = [];
  inFlight = new Set<number>();
  /** Pids this run killed for not answering; their exit is not counted a second time. */
  readonly killed = new Set<number>();
  private readonly t0 = Date.now();

  private constructor(
    readonly baseUrl: string,
    private readonly redis: LocalRedis,
  ) {}

  static async start(keys: Keys): Promise<FuzzStack> {
    const dir = join(ROOT, '.bench', 'fuzz-models');
    mkdirSync(dir, { recursive: true });
    const chat = join(dir, 'tiny-chat.gguf');
    if (!existsSync(chat)) {
      await generateLlamaModel({ shape: 'tiny', seed: 7, name: 'tiny-chat', path: `${chat}.tmp` });
      renameSync(`${chat}.tmp`, chat);
    }
    const onnx = (task: 'embeddings' | 'classifier' | 'reranker', seed: number): string => {
      const d = join(dir, `onnx-${task}`);
      if (!existsSync(join(d, 'onnx', 'model.onnx'))) generateBertModel({ dir: d, task, seed });
      return d;
    };
    const modelsFile = join(dir, 'models.yaml');
    const gguf = (name: string, extra: string[]): string[] => [`  - name: ${name}`, `    path: ${JSON.stringify(chat)}`, '    threads: 1', ...extra];
    const onnxEntry = (name: string, task: string, path: string, extra: string[] = []): string[] => [
      `  - name: ${name}`,
      '    backend: onnx',
      `    task: ${task}`,
      `    path: ${JSON.stringify(path)}`,
      '    threads: 1',
      ...extra,
    ];
    writeFileSync(
      modelsFile,
      [
        'models:',
        ...gguf(MODELS.chat, ['    context_size: 256', '    parallel: 2', '    aliases: ["fuzz-chat-alias"]']),
        ...gguf(MODELS.ggufEmbed, ['    context_size: 64', '    parallel: 2', '    embedding: true']),
        ...gguf(MODELS.spare, ['    context_size: 128', '    parallel: 1', '    preload: false']),
        ...onnxEntry(MODELS.embed, 'embeddings', onnx('embeddings', 3)),
        ...onnxEntry(MODELS.moderation, 'classifier', onnx('classifier', 4), ['    categories: { toxic: [harassment], threat: [violence] }']),
        ...onnxEntry(MODELS.rerank, 'reranker', onnx('reranker', 5)),
        '',
      ].join('\n'),
    );
    const redis = await startLocalRedis();
    const port = await freePort();
    const stack = new FuzzStack(`http://127.0.0.1:${port}`, redis);
    const common = { REDIS_URL: redis.url, MODELS_FILE: modelsFile, LOG_LEVEL: 'warn' };
    const onExit = (p: ManagedProcess, code: number | null, signal: string | null): void => {
      // A kill of ours was recorded when it was sent (as killed-unresponsive).
      if (stack.killed.delete(p.pid ?? -1)) return;
      stack.exits.push({ process: p.name, pid: p.pid, code, signal, atMs: Date.now() - stack.t0, inFlight: [...stack.inFlight], logTail: p.tail(), cause: 'exit' });
      log(`${p.name} (pid ${p.pid}) exited: ${code ?? signal}; restarting`);
    };
    const gatewayReady = (): Promise<void> => waitUntil(async () => (await fetch(`${stack.baseUrl}/health`)).ok, 30_000, 'the gateway');
    stack.processes.push(
      new ManagedProcess(
        'gateway',
        'gateway',
        { ...common, PORT: String(port), HOST: '127.0.0.1', WORKER_WAIT_MS: '2000', API_KEYS: keys.user, ADMIN_KEYS: keys.admin, MAX_BODY_BYTES: String(MAX_BODY_BYTES) },
        gatewayReady,
        onExit,
      ),
    );
    for (const id of ['worker-0', 'worker-1']) {
      stack.processes.push(new ManagedProcess(id, 'llm-worker', { ...common, LLAMA_GPU: 'false', WORKER_ID: id }, () => stack.workerReady(id, [MODELS.chat, MODELS.ggufEmbed]), onExit));
    }
    stack.processes.push(new ManagedProcess('onnx-0', 'onnx-worker', { ...common, WORKER_ID: 'onnx-0' }, () => stack.workerReady('onnx-0', [MODELS.embed, MODELS.moderation, MODELS.rerank]), onExit));
    for (const p of stack.processes) p.start();
    try {
      await gatewayReady();
      await Promise.all(stack.processes.slice(1).map((p) => stack.workerReady(p.name, p.name.startsWith('onnx') ? [MODELS.embed, MODELS.moderation, MODELS.rerank] : [MODELS.chat, MODELS.ggufEmbed])));
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  async workerReady(id: string, models: string[]): Promise<void> {
    const r = new Redis(this.redis.url);
    try {
      await waitUntil(
        async () => {
          const v = await r.get(`switchyard:worker:${id}`);
          if (!v) return false;
          const ready = new Set((JSON.parse(v) as { models: Array<{ name: string; state: string }> }).models.filter((m) => m.state === 'ready').map((m) => m.name));
          return models.every((m) => ready.has(m));
        },
        90_000,
        `worker ${id} serving ${models.join(', ')}`,
      );
    } finally {
      r.disconnect();
    }
  }

  /** Waits while any process is being restarted, so cases do not pile onto a half-started stack. */
  async settled(): Promise<void> {
    for (;;) {
      const pending = this.processes.map((p) => p.recovering).filter((p): p is Promise<void> => p !== undefined);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  gateway(): ManagedProcess {
    return this.processes[0];
  }

  /** The gateway answers no health check for a while: kill it (the exit handler restarts it). */
  killUnresponsive(p: ManagedProcess): void {
    if (p.pid === undefined || this.killed.has(p.pid) || p.recovering) return;
    this.killed.add(p.pid);
    this.exits.push({ process: p.name, pid: p.pid, code: null, signal: 'SIGKILL', atMs: Date.now() - this.t0, inFlight: [...this.inFlight], logTail: p.tail(), cause: 'killed-unresponsive' });
    log(`${p.name} (pid ${p.pid}) unresponsive; killing`);
    p.kill();
  }

  rss(): Record<string, number | undefined> {
    return Object.fromEntries([...this.processes.map((p) => [p.name, p.sample()] as const), ['redis', rssKb(this.redis.process.pid)] as const]);
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
    await this.redis.stop();
  }
}

// --- sending a case ----------------------------------------------------------------------------

type Outcome = number | 'hang' | 'closed' | 'client-error' | 'client-aborted';
type SseEnd = 'done' | 'error-event' | 'unterminated' | 'disconnected';

interface CaseResult {
  index: number;
  endpoint: string;
  mutation: string;
  outcome: Outcome;
  ms: number;
  sse?: SseEnd;
  /** `error.type`/`error.code` of the response (or of the final SSE error event). */
  error?: string;
  response: string;
}

function sseEnd(text: string): { end: SseEnd; error?: string } {
  const blocks = text.split('\n\n').map((b) => b.trim()).filter((b) => b.startsWith('data: '));
  const last = blocks.at(-1)?.slice('data: '.length);
  if (last === '[DONE]') return { end: 'done' };
  if (last !== undefined) {
    try {
      const e = (JSON.parse(last) as { error?: { type?: string; code?: string } }).error;
      if (e) return { end: 'error-event', error: `${e.type}/${e.code}` };
    } catch {
      // fall through
    }
  }
  return { end: 'unterminated' };
}

function errorOf(text: string): string | undefined {
  try {
    const e = (JSON.parse(text) as { error?: { type?: string; code?: string } }).error;
    return e ? `${e.type}/${e.code}` : undefined;
  } catch {
    return undefined;
  }
}

function sendHttp(base: URL, c: FuzzCase, timeoutMs: number): Promise<Omit<CaseResult, 'index' | 'endpoint' | 'mutation' | 'ms'>> {
  return new Promise((done) => {
    let finished = false;
    const finish = (r: Omit<CaseResult, 'index' | 'endpoint' | 'mutation' | 'ms'>): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done(r);
    };
    const headers: Record<string, string> = { ...c.headers, connection: 'close' };
    if (c.body) headers['content-length'] = String(c.body.length);
    let req: ReturnType<typeof httpRequest>;
    try {
      req = httpRequest({ host: base.hostname, port: base.port, method: c.method, path: c.path, headers, agent: false });
    } catch (err) {
      // Node refused to send it (a header or path it considers invalid): not the server's doing.
      done({ outcome: 'client-error', response: (err as Error).message });
      return;
    }
    const timer = setTimeout(() => {
      req.destroy();
      finish({ outcome: 'hang', response: '' });
    }, timeoutMs);
    req.on('error', (err) => finish({ outcome: c.truncateAt !== undefined ? 'client-aborted' : 'closed', response: err.message }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const sse = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
      let disconnected = false;
      if (c.disconnectAfterMs !== undefined) {
        setTimeout(() => {
          disconnected = true;
          res.destroy();
          finish({ outcome: res.statusCode ?? 0, sse: sse ? 'disconnected' : undefined, response: Buffer.concat(chunks).toString('utf8').slice(0, SNIPPET) });
        }, c.disconnectAfterMs);
      }
      res.on('data', (b: Buffer) => {
        size += b.length;
        if (size < 4 * 1024 * 1024) chunks.push(b);
      });
      res.on('error', () => undefined);
      res.on('close', () => {
        if (disconnected) return;
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (sse) {
          const end = sseEnd(text);
          finish({ outcome: status, sse: res.complete ? end.end : 'unterminated', error: end.error, response: text.slice(-SNIPPET) });
        } else {
          finish({ outcome: status, error: errorOf(text), response: text.slice(0, SNIPPET) });
        }
      });
    });
    if (c.truncateAt !== undefined && c.body) {
      req.write(c.body.subarray(0, c.truncateAt));
      setTimeout(() => {
        req.destroy();
        finish({ outcome: 'client-aborted', response: '' });
      }, 100);
      return;
    }
    req.end(c.body);
  });
}

/** Wire-level cases: raw bytes on a socket; only the status line is read back. */
function sendRaw(base: URL, c: FuzzCase, timeoutMs: number): Promise<Omit<CaseResult, 'index' | 'endpoint' | 'mutation' | 'ms'>> {
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    const socket = createConnection({ host: base.hostname, port: Number(base.port) });
    const timer = setTimeout(() => {
      socket.destroy();
      finish('hang');
    }, timeoutMs);
    let finished = false;
    const finish = (forced?: 'hang'): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (forced === 'hang') return done({ outcome: 'hang', response: text.slice(0, SNIPPET) });
      done(m ? { outcome: Number(m[1]), error: errorOf(text.slice(text.indexOf('\r\n\r\n') + 4)), response: text.slice(0, SNIPPET) } : { outcome: 'closed', response: text.slice(0, SNIPPET) });
    };
    socket.on('data', (b: Buffer) => chunks.push(b));
    socket.on('error', () => finish());
    socket.on('close', () => finish());
    socket.write(c.raw ?? Buffer.alloc(0));
  });
}

async function runCase(base: URL, c: FuzzCase, timeoutMs: number): Promise<CaseResult> {
  const t0 = performance.now();
  const r = c.raw ? await sendRaw(base, c, timeoutMs) : await sendHttp(base, c, timeoutMs);
  return { index: c.index, endpoint: c.endpoint, mutation: c.mutation, ms: Math.round(performance.now() - t0), ...r };
}

function describeRequest(c: FuzzCase): string {
  const bytes = c.raw ?? c.body ?? Buffer.alloc(0);
  const shown = bytes.subarray(0, SNIPPET).toString('utf8');
  const headers = Object.entries(c.headers)
    .map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}...(${v.length})` : v}`)
    .join('; ');
  return `${c.method} ${c.path.slice(0, 200)} [${headers}] ${bytes.length} bytes: ${shown}${bytes.length > SNIPPET ? '...' : ''}`;
}

/** Deepest bracket nesting of a JSON body (outside strings): tells deep-nesting failures apart at a glance. */
function jsonDepth(body: Buffer | undefined): number {
  if (!body) return 0;
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) max = Math.max(max, ++depth);
    else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return max;
}

async function healthy(baseUrl: string, ms: number): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(ms) });
    return res.status < 500;
  } catch {
    return false;
  }
}

// --- the run -----------------------------------------------------------------------------------

interface Finding {
  index: number;
  endpoint: string;
  mutation: string;
  outcome: Outcome;
  ms: number;
  error?: string;
  /** Hangs only: the gateway failed its health check too (the whole process was stuck). */
  gatewayFrozen?: boolean;
  /** Nesting depth of the JSON body. */
  depth: number;
  request: string;
  response: string;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  let stack: FuzzStack | undefined;
  if (args.target) log(`fuzzing ${args.target} (no process tracking)`);
  else {
    log('starting the stack (redis, gateway, 2 llm workers, 1 onnx worker)');
    stack = await FuzzStack.start(args.keys);
  }
  const baseUrl = args.target ?? stack!.baseUrl;
  const base = new URL(baseUrl);
  const host = base.host;
  const indices = args.only ?? Array.from({ length: args.cases }, (_, i) => i);
  const rssBefore = stack?.rss();
  const sampler = stack ? setInterval(() => stack!.rss(), 1000) : undefined;
  const results: CaseResult[] = [];
  const fiveXx: Finding[] = [];
  const hangs: Finding[] = [];
  const streamProblems: Finding[] = [];
  let next = 0;
  let sinceProgress = Date.now();
  const fuzzStart = Date.now();
  const lane = async (): Promise<void> => {
    while (next < indices.length) {
      const index = indices[next++];
      const c = generateCase(args.seed, index, host, args.keys);
      await stack?.settled();
      stack?.inFlight.add(index);
      const r = await runCase(base, c, args.timeoutMs);
      stack?.inFlight.delete(index);
      results.push(r);
      const finding = (): Finding => ({ index, endpoint: r.endpoint, mutation: r.mutation, outcome: r.outcome, ms: r.ms, error: r.error, depth: jsonDepth(c.body), request: describeRequest(c), response: r.response });
      if (typeof r.outcome === 'number' && r.outcome >= 500) fiveXx.push(finding());
      if (r.outcome === 'hang') {
        hangs.push(finding());
        // A gateway that no longer answers its health check is frozen: restart it so the run goes on.
        // Every case in flight hangs with it, so hangs are reported with whether the gateway was frozen.
        const frozen = !(await healthy(baseUrl, 5000));
        hangs[hangs.length - 1].gatewayFrozen = frozen;
        if (stack && frozen) stack.killUnresponsive(stack.gateway());
      }
      if (r.sse === 'unterminated' || (r.sse === 'error-event' && (r.error ?? '').startsWith('server_error'))) streamProblems.push(finding());
      if (Date.now() - sinceProgress > 15_000) {
        sinceProgress = Date.now();
        log(`${results.length}/${indices.length} cases, ${fiveXx.length} 5xx, ${stack?.exits.length ?? 0} exits, ${hangs.length} hangs`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency, indices.length) }, lane));
  const fuzzMs = Date.now() - fuzzStart;
  await stack?.settled();
  await new Promise((r) => setTimeout(r, 2000));
  const rssAfter = stack?.rss();
  if (sampler) clearInterval(sampler);
  const stillHealthy = await healthy(baseUrl, 5000);

  // status counts by endpoint
  const byEndpoint = new Map<string, Map<string, number>>();
  for (const r of results) {
    const row = byEndpoint.get(r.endpoint) ?? new Map<string, number>();
    byEndpoint.set(r.endpoint, row);
    row.set(String(r.outcome), (row.get(String(r.outcome)) ?? 0) + 1);
  }
  const statusCounts: Record<string, Record<string, number>> = Object.fromEntries([...byEndpoint.entries()].sort().map(([e, row]) => [e, Object.fromEntries([...row.entries()].sort())]));
  const totals: Record<string, number> = {};
  for (const row of byEndpoint.values()) for (const [s, n] of row) totals[s] = (totals[s] ?? 0) + n;
  const sse: Record<string, number> = {};
  for (const r of results) if (r.sse) sse[r.sse] = (sse[r.sse] ?? 0) + 1;
  const exits = stack?.exits ?? [];
  const report = {
    seed: args.seed,
    cases: results.length,
    concurrency: args.concurrency,
    timeoutMs: args.timeoutMs,
    target: args.target ?? 'own stack',
    totalMs: Date.now() - started,
    fuzzMs,
    statusTotals: totals,
    statusCounts,
    sse,
    fiveXx: fiveXx.sort((a, b) => a.index - b.index),
    hangs: hangs.sort((a, b) => a.index - b.index),
    streamProblems: streamProblems.sort((a, b) => a.index - b.index),
    exits: exits.map((e) => ({ ...e, logTail: e.logTail.slice(-3000) })),
    restarts: Object.fromEntries((stack?.processes ?? []).map((p) => [p.name, p.restarts])),
    rssKb: stack
      ? Object.fromEntries(Object.keys(rssBefore ?? {}).map((k) => [k, { before: rssBefore?.[k], after: rssAfter?.[k], peak: stack!.processes.find((p) => p.name === k)?.peakRssKb }]))
      : undefined,
    healthyAtEnd: stillHealthy,
    /** Every case's outcome, to diff two runs of the same seed (before and after a fix). */
    results: results.sort((a, b) => a.index - b.index).map((r) => ({ index: r.index, endpoint: r.endpoint, outcome: r.outcome, ms: r.ms, sse: r.sse, error: r.error })),
  };
  await stack?.stop();

  const out = args.out ?? join(ROOT, '.bench', `fuzz-${args.seed}.json`);
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2));
  printReport(report);
  console.log(`\nfull report: ${out}`);
  const failed = fiveXx.length + exits.length + hangs.length;
  process.exitCode = failed > 0 ? 1 : 0;
}

function printReport(r: {
  seed: number;
  cases: number;
  fuzzMs: number;
  totalMs: number;
  statusTotals: Record<string, number>;
  statusCounts: Record<string, Record<string, number>>;
  sse: Record<string, number>;
  fiveXx: Finding[];
  hangs: Finding[];
  streamProblems: Finding[];
  exits: ExitRecord[];
  rssKb?: Record<string, { before?: number; after?: number; peak?: number }>;
  healthyAtEnd: boolean;
}): void {
  const statuses = Object.keys(r.statusTotals).sort();
  const width = Math.max(...Object.keys(r.statusCounts).map((e) => e.length), 10);
  console.log(`\nfuzz seed ${r.seed}: ${r.cases} cases in ${(r.fuzzMs / 1000).toFixed(0)} s (${(r.totalMs / 1000).toFixed(0)} s with start-up)\n`);
  console.log(`${'endpoint'.padEnd(width)}  ${statuses.map((s) => s.padStart(6)).join(' ')}`);
  for (const [e, row] of Object.entries(r.statusCounts)) console.log(`${e.padEnd(width)}  ${statuses.map((s) => String(row[s] ?? '').padStart(6)).join(' ')}`);
  console.log(`${'total'.padEnd(width)}  ${statuses.map((s) => String(r.statusTotals[s]).padStart(6)).join(' ')}`);
  console.log(`\nSSE endings: ${JSON.stringify(r.sse)}`);
  console.log(`5xx: ${r.fiveXx.length}   exits: ${r.exits.length}   hangs: ${r.hangs.length}   stream problems: ${r.streamProblems.length}   healthy at end: ${r.healthyAtEnd}`);
  const show = (title: string, items: Finding[]): void => {
    if (items.length === 0) return;
    console.log(`\n${title}:`);
    for (const f of items.slice(0, 40)) {
      const frozen = f.gatewayFrozen ? ', gateway frozen' : '';
      console.log(`  #${f.index} ${f.endpoint} -> ${f.outcome} ${f.error ?? ''} (${f.ms} ms, depth ${f.depth}${frozen}) [${f.mutation}]`);
      console.log(`     req: ${f.request.slice(0, 300).replace(/\n/g, '\\n')}`);
      if (f.response) console.log(`     res: ${f.response.slice(0, 200).replace(/\n/g, '\\n')}`);
    }
    if (items.length > 40) console.log(`  ... ${items.length - 40} more in the JSON report`);
  };
  show('5xx responses', r.fiveXx);
  show('hangs', r.hangs);
  show('stream problems (unterminated, or ending in a server_error event)', r.streamProblems);
  if (r.exits.length > 0) {
    console.log('\nprocess exits:');
    for (const e of r.exits) console.log(`  ${e.process} pid ${e.pid} ${e.cause} ${e.code ?? e.signal} at ${(e.atMs / 1000).toFixed(1)} s, in flight: ${e.inFlight.join(',')}`);
  }
  if (r.rssKb) {
    console.log('\nRSS (MiB)      before   after    peak');
    const mib = (kb?: number): string => (kb === undefined ? '-' : (kb / 1024).toFixed(0)).padStart(7);
    for (const [p, v] of Object.entries(r.rssKb)) console.log(`  ${p.padEnd(12)}${mib(v.before)} ${mib(v.after)} ${mib(v.peak)}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
