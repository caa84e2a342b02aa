/**
 * Gateway overhead benchmark: the same model, prompt, threads and max_tokens streamed (1) straight
 * from node-llama-cpp inside this process and (2) through the full stack (HTTP gateway → BullMQ/Redis
 * → llm worker → Redis pub/sub → SSE), at each concurrency, interleaving the two sides run by run so
 * machine noise hits both. Reports medians of time to first token and decode tokens/s, the
 * gateway/direct ratios, and CPU time per process, as text and as markdown.
 *
 *   npm run bench -- [--shape smollm2-135m|qwen2.5-0.5b|tiny] [--prompt short|long] [--threads N] [--max-tokens N]
 *     [--runs N] [--concurrency 1,4] [--context N] [--warmup N] [--model FILE] [--skip-generate]
 *     [--max-foreign SHARE] [--markdown FILE] [--json FILE]
 *
 * Each flag can also come from the environment: BENCH_SHAPE, BENCH_THREADS, BENCH_MAX_TOKENS, ...
 *
 * Only one side computes at a time: both keep their model loaded, but an idle llama.cpp context and
 * an idle worker (blocked on Redis) use no CPU; the bench measures and prints that.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { generateLlamaModel, LLAMA_SHAPES, type LlamaShapeName } from '@switchyard/model-gen';
import { fmt, fmtRange, median, phaseMetrics, summarizePhases, type PhaseMetrics, type StreamSample, type SummaryOf } from './bench-stats';
import { CpuLedger, MAIN_THREAD, measureCpu, waitForQuiet, type Processes } from './cpu-usage';
import { DirectRunner } from './direct-runner';
import { GatewayStack } from './gateway-runner';

const ROOT = resolve(__dirname, '..', '..');
const MODEL_NAME = 'bench';
const SETTLE_MS = 250;
/** How long to wait for other programs on the machine to go quiet before a phase. */
const QUIET_TIMEOUT_MS = 120_000;
/** How many times a phase disturbed by other programs is measured again. */
const MAX_REDO = 4;

/**
 * Fixed prompts; each request gets a distinct prefix so neither side reuses a cached prompt. The short
 * one keeps prefill small so time to first token shows the serving overhead rather than prefill noise.
 */
const PROMPTS = {
  short: 'Write the opening of a short story about a lighthouse keeper who finds a letter.',
  long:
    'The harbour master kept a ledger of every ship that entered the bay: its name, its cargo, the ' +
    'weather on the day it arrived and the number of sailors who came ashore. Over forty years the ' +
    'ledger grew into eleven volumes. Write the opening of a short story about the day the twelfth ' +
    'volume was found, already half filled, in a handwriting nobody recognised.',
} as const;
type PromptKind = keyof typeof PROMPTS;

let basePrompt: string = PROMPTS.short;

function promptFor(run: string, stream: number): string {
  return `Request ${run}.${stream}. ${basePrompt}`;
}

type Side = 'direct' | 'gateway';

interface Args {
  shape: LlamaShapeName;
  prompt: PromptKind;
  threads: number;
  maxTokens: number;
  runs: number;
  concurrency: number[];
  context: number;
  warmup: number;
  model?: string;
  skipGenerate: boolean;
  /** Largest share of one core other programs may use during a phase before it is redone. */
  maxForeign: number;
  markdown?: string;
  json?: string;
}

const USAGE =
  'usage: npm run bench -- [--shape ' +
  Object.keys(LLAMA_SHAPES).join('|') +
  '] [--prompt short|long] [--threads N] [--max-tokens N] [--runs N] [--concurrency 1,4] [--context N] [--warmup N]' +
  ' [--model FILE] [--skip-generate] [--max-foreign 0.15] [--markdown FILE] [--json FILE]';

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Args {
  const raw: Record<string, string> = {};
  const envNames = ['shape', 'prompt', 'threads', 'max-tokens', 'runs', 'concurrency', 'context', 'warmup', 'model', 'max-foreign', 'markdown', 'json'];
  for (const name of envNames) {
    const v = env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
    if (v) raw[name] = v;
  }
  let skipGenerate = env.BENCH_SKIP_GENERATE === '1' || env.BENCH_SKIP_GENERATE === 'true';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (a === '--skip-generate') {
      skipGenerate = true;
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq >= 0 ? a.slice(0, eq) : a;
    const name = flag.replace(/^--/, '');
    if (!flag.startsWith('--') || !envNames.includes(name)) throw new Error(`unknown argument '${a}'\n${USAGE}`);
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    raw[name] = value;
  }
  const int = (name: string, def: number, min: number): number => {
    const v = raw[name];
    if (v === undefined) return def;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} must be an integer ≥ ${min}, got '${v}'`);
    return Number(v);
  };
  const shape = (raw.shape ?? 'smollm2-135m') as LlamaShapeName;
  if (!(shape in LLAMA_SHAPES)) throw new Error(`unknown shape '${shape}'\n${USAGE}`);
  const concurrency = (raw.concurrency ?? '1,4').split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrency must be a list of positive integers, got '${raw.concurrency}'`);
    return n;
  });
  const maxForeign = raw['max-foreign'] === undefined ? 0.15 : Number(raw['max-foreign']);
  if (!(maxForeign > 0)) throw new Error(`--max-foreign must be a positive share of one core, got '${raw['max-foreign']}'`);
  const prompt = (raw.prompt ?? 'short') as PromptKind;
  if (!(prompt in PROMPTS)) throw new Error(`--prompt must be ${Object.keys(PROMPTS).join(' or ')}, got '${prompt}'`);
  return {
    shape,
    prompt,
    threads: int('threads', 1, 1),
    maxTokens: int('max-tokens', 128, 2),
    runs: int('runs', 5, 1),
    concurrency,
    context: int('context', 1024, 64),
    warmup: int('warmup', 1, 0),
    model: raw.model,
    skipGenerate,
    maxForeign,
    markdown: raw.markdown,
    json: raw.json,
  };
}

async function ensureModel(args: Args): Promise<string> {
  if (args.model) {
    if (!existsSync(args.model)) throw new Error(`model file not found: ${args.model}`);
    return resolve(args.model);
  }
  const dir = join(ROOT, '.bench');
  const path = join(dir, `${args.shape}-q8_0.gguf`);
  if (existsSync(path)) return path;
  if (args.skipGenerate) throw new Error(`${path} is missing (drop --skip-generate to generate it)`);
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const t0 = Date.now();
  log(`generating ${path} (random weights, ${args.shape} shape, q8_0)...`);
  await generateLlamaModel({ path: tmp, shape: args.shape, quant: 'q8_0', seed: 1 });
  renameSync(tmp, path);
  log(`generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return path;
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

interface Results {
  setup: Record<string, string | number>;
  idleCpuMs: Record<string, number>;
  idleWindowMs: number;
  /** Phases measured again because other programs were busy meanwhile. */
  redone: number;
  /** Phases kept although other programs were busy (after MAX_REDO tries). */
  noisy: number;
  phases: Record<string, { direct: PhaseMetrics[]; gateway: PhaseMetrics[]; samples: { direct: StreamSample[][]; gateway: StreamSample[][] } }>;
  cpu: Record<Side, { ms: Record<string, number>; wallMs: number; foreignMs: number; tokens: number }>;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), process.env);
  basePrompt = PROMPTS[args.prompt];
  const modelPath = await ensureModel(args);
  const slots = Math.max(...args.concurrency);
  const processes: Processes = { bench: process.pid, [`bench${MAIN_THREAD}`]: process.pid };

  log(`loading ${modelPath} in-process (threads ${args.threads}, ${slots} sequences, context ${args.context})`);
  const direct = await DirectRunner.load({ modelPath, contextSize: args.context, sequences: slots, threads: args.threads });
  const promptTokens = direct.tokenize(promptFor('0', 0)).length;
  log('starting redis-server, llm worker and gateway');
  let stack: GatewayStack | undefined;
  try {
    stack = await GatewayStack.start({
      root: ROOT,
      modelName: MODEL_NAME,
      modelPath,
      contextSize: args.context,
      parallel: slots,
      threads: args.threads,
    });
    const pids = stack.pids();
    Object.assign(processes, { worker: pids.worker, [`worker${MAIN_THREAD}`]: pids.worker, gateway: pids.gateway, redis: pids.redis });
    const gw = stack;
    const sides: Record<Side, (prompts: string[]) => Promise<StreamSample[]>> = {
      direct: (prompts) => direct.run(prompts, args.maxTokens),
      gateway: (prompts) => gw.run(prompts, args.maxTokens),
    };

    // With everything loaded and nothing asked of it, every process should be (nearly) idle.
    const idle = await measureCpu(processes, () => sleep(2000));

    for (let w = 0; w < args.warmup; w++) {
      for (const c of args.concurrency) {
        for (const side of ['direct', 'gateway'] as const) {
          log(`warm-up ${w + 1}/${args.warmup}: ${side} c=${c}`);
          await sides[side](Array.from({ length: c }, (_, s) => promptFor(`w${w}c${c}`, s)));
        }
      }
    }

    const ledgers: Record<Side, CpuLedger> = { direct: new CpuLedger(), gateway: new CpuLedger() };
    const tokens: Record<Side, number> = { direct: 0, gateway: 0 };
    const phases: Results['phases'] = {};
    let redone = 0;
    let noisy = 0;
    for (const c of args.concurrency) phases[c] = { direct: [], gateway: [], samples: { direct: [], gateway: [] } };
    for (let r = 0; r < args.runs; r++) {
      // Alternate which side goes first so slow drifts (thermal, noisy neighbours) hit both equally.
      const order: Side[] = r % 2 === 0 ? ['direct', 'gateway'] : ['gateway', 'direct'];
      for (const c of args.concurrency) {
        for (const side of order) {
          for (let attempt = 0; ; attempt++) {
            // Unique per run, concurrency and try: a prompt seen before would be served from the KV cache.
            const prompts = Array.from({ length: c }, (_, s) => promptFor(`${r}${'abcdefgh'[attempt]}${c}`, s));
            await sleep(SETTLE_MS);
            if (!(await waitForQuiet(processes, args.maxForeign, QUIET_TIMEOUT_MS))) {
              log(`the machine stayed busy with other programs for ${QUIET_TIMEOUT_MS / 1000} s; measuring anyway`);
            }
            const { value: samples, span } = await measureCpu(processes, () => sides[side](prompts));
            const m = phaseMetrics(samples);
            const foreign = span.foreignMs / span.wallMs;
            const line =
              `run ${r + 1}/${args.runs} c=${c} ${side.padEnd(7)} ttft ${fmt(m.ttftMs)} ms, decode ${fmt(m.streamDecodeTps)} tok/s/stream, ` +
              `aggregate ${fmt(m.aggregateDecodeTps)} tok/s, ${fmt(m.tokensPerStream, 0)} tokens/stream, other programs ${fmt(foreign * 100, 0)}% of a core`;
            if (foreign > args.maxForeign && attempt < MAX_REDO) {
              log(`${line}: redo`);
              redone++;
              continue;
            }
            if (foreign > args.maxForeign) noisy++;
            log(line);
            phases[c][side].push(m);
            phases[c].samples[side].push(samples);
            ledgers[side].add(span);
            tokens[side] += samples.reduce((a, s) => a + s.tokens, 0);
            break;
          }
        }
      }
    }

    const results: Results = {
      setup: {
        shape: args.shape,
        model: modelPath,
        modelMiB: Number((statSync(modelPath).size / 2 ** 20).toFixed(1)),
        quant: 'q8_0',
        threads: args.threads,
        contextSize: args.context,
        slots,
        maxTokens: args.maxTokens,
        prompt: args.prompt,
        promptTokens,
        runs: args.runs,
        warmup: args.warmup,
        concurrency: args.concurrency.join(','),
        cpu: cpuModel(),
        cores: cpus().length,
        memGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
        node: process.version,
        nodeLlamaCpp: packageVersion('node-llama-cpp'),
        date: new Date().toISOString(),
      },
      idleCpuMs: idle.span.ms,
      idleWindowMs: idle.span.wallMs,
      redone,
      noisy,
      phases,
      cpu: {
        direct: { ms: ledgers.direct.ms, wallMs: ledgers.direct.wallMs, foreignMs: ledgers.direct.foreignMs, tokens: tokens.direct },
        gateway: { ms: ledgers.gateway.ms, wallMs: ledgers.gateway.wallMs, foreignMs: ledgers.gateway.foreignMs, tokens: tokens.gateway },
      },
    };
    const md = renderMarkdown(args, results);
    process.stdout.write(`\n${md}\n`);
    if (args.markdown) writeFileSync(args.markdown, md + '\n');
    if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
  } finally {
    await stack?.stop();
    await direct.dispose();
  }
}

function signed(v: number, digits = 1): string {
  return `${v >= 0 ? '+' : ''}${fmt(v, digits)}`;
}

function renderMarkdown(args: Args, r: Results): string {
  const s = r.setup;
  const lines: string[] = [];
  lines.push(
    `### ${s.shape} shape, q8_0 (${s.modelMiB} MiB), threads ${s.threads}, max_tokens ${s.maxTokens}`,
    '',
    `Prompt '${s.prompt}' (${s.promptTokens} tokens), greedy (temperature 0), context ${s.contextSize} × ${s.slots} sequences / parallel ${s.slots}; ` +
      `${s.runs} measured runs (+${s.warmup} warm-up), direct and gateway interleaved; medians with (min–max) over runs. ` +
      `${s.cpu}, ${s.cores} cores, Node ${s.node}, node-llama-cpp ${s.nodeLlamaCpp}.`,
    '',
    '| concurrency | path | TTFT ms (mean of streams) | slowest stream TTFT ms | decode tok/s per stream | aggregate decode tok/s | end-to-end tok/s | tokens/stream |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
  );
  const verdicts: string[] = [];
  for (const c of args.concurrency) {
    const d = summarizePhases(r.phases[c].direct);
    const g = summarizePhases(r.phases[c].gateway);
    const row = (name: string, x: SummaryOf<PhaseMetrics>): string =>
      `| ${c} | ${name} | ${fmtRange(x.ttftMs)} | ${fmtRange(x.maxTtftMs)} | ${fmtRange(x.streamDecodeTps)} | ${fmtRange(x.aggregateDecodeTps)} | ${fmtRange(x.endToEndTps)} | ${fmt(x.tokensPerStream.median, 0)} |`;
    lines.push(row('direct', d), row('gateway', g));
    const addedTtft = g.ttftMs.median - d.ttftMs.median;
    const streamRatio = g.streamDecodeTps.median / d.streamDecodeTps.median;
    const aggRatio = g.aggregateDecodeTps.median / d.aggregateDecodeTps.median;
    const e2eRatio = g.endToEndTps.median / d.endToEndTps.median;
    lines.push(
      `| ${c} | **gateway vs direct** | **${signed(addedTtft)}** | ${signed(g.maxTtftMs.median - d.maxTtftMs.median)} | **${fmt(streamRatio, 3)}×** | **${fmt(aggRatio, 3)}×** | ${fmt(e2eRatio, 3)}× | |`,
    );
    const dr = r.phases[c].direct;
    const gr = r.phases[c].gateway;
    const finite = (v: number[]): number[] => v.filter(Number.isFinite);
    const pairedTtft = median(finite(gr.map((x, i) => x.ttftMs - dr[i].ttftMs)));
    const pairedStream = median(finite(gr.map((x, i) => x.streamDecodeTps / dr[i].streamDecodeTps)));
    const pairedAgg = median(finite(gr.map((x, i) => x.aggregateDecodeTps / dr[i].aggregateDecodeTps)));
    verdicts.push(
      `- c=${c}: decode ${fmt(streamRatio, 3)}× direct per stream, ${fmt(aggRatio, 3)}× aggregate (target ≥ 0.95×: ` +
        `${Math.min(streamRatio, aggRatio) >= 0.95 ? 'met' : 'NOT met'}); added TTFT ${signed(addedTtft)} ms (target ≤ 5 ms: ${addedTtft <= 5 ? 'met' : 'NOT met'}). ` +
        `Paired by run (medians of per-run gateway/direct): decode ${fmt(pairedStream, 3)}× per stream, ` +
        `${fmt(pairedAgg, 3)}× aggregate, TTFT ${signed(pairedTtft)} ms.`,
    );
  }
  lines.push('', ...verdicts, '');
  const names = Object.keys(r.cpu.direct.ms);
  lines.push(
    'CPU time per generated token (ms, all measured runs), by process:',
    '',
    `| phase | ${names.join(' | ')} | wall ms/token |`,
    `|---|${names.map(() => '---:').join('|')}|---:|`,
  );
  for (const side of ['direct', 'gateway'] as const) {
    const x = r.cpu[side];
    lines.push(`| ${side} runs | ${names.map((n) => fmt(x.ms[n] / x.tokens, 3)).join(' | ')} | ${fmt(x.wallMs / x.tokens, 3)} |`);
  }
  lines.push(
    '',
    `Idle check (${fmt(r.idleWindowMs / 1000, 1)} s, everything loaded, no requests): ` +
      names.map((n) => `${n} ${fmt(r.idleCpuMs[n], 0)} ms`).join(', ') +
      ' of CPU. ' +
      `Phases redone because other programs on the machine were busy: ${r.redone}; kept although busy: ${r.noisy}.`,
  );
  return lines.join('\n');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`[bench] failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
