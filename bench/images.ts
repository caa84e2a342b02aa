/**
 * Image generation speed on a random-weight Stable Diffusion pipeline (libs/model-gen: `tiny`, or
 * `sd-turbo`, SD-Turbo's real shapes, 1.29 B parameters): seconds per image and UNet steps per
 * second (all clients together), side by side in one run:
 *
 * - **direct**: the pipeline on its own thread in this process (libs/diffusion's runner, the same
 *   threads), images kept as raw pixels (no encoding);
 * - **gateway**: `POST /v1/images/generations` through the whole stack (HTTP → BullMQ/Redis → onnx
 *   worker: the same runner, then PNG encoding → Redis → JSON with b64_json).
 *
 * Each at each concurrency (closed loop; both sides run one image at a time on the pipeline thread,
 * so concurrency shows the serving overhead, not parallel speed-up). Each phase is measured `--runs`
 * times, in alternating order; medians of the per-run ratios are reported.
 *
 *   npm run bench:images -- [--shape sd-turbo] [--size 512] [--steps 2] [--threads 2]
 *     [--requests 2] [--runs 1] [--concurrency 1,2] [--markdown FILE]
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { startDiffusionRunner } from '@switchyard/diffusion';
import { DIFFUSION_SHAPES, generateDiffusionPipeline, type DiffusionShapeName } from '@switchyard/model-gen';
import { fmt, median } from './bench-stats';
import { waitForQuiet, type Processes } from './cpu-usage';
import { startOnnxBenchStack } from './onnx-stack';

const ROOT = resolve(__dirname, '..', '..');
const QUIET_MAX_SHARE = 0.15;
const QUIET_TIMEOUT_MS = 30_000;
const PROMPT = 'a lighthouse on a cliff at dusk, oil painting';

interface Args {
  shape: DiffusionShapeName;
  size: number;
  steps: number;
  threads: number;
  requests: number;
  runs: number;
  concurrency: number[];
  markdown?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { shape: 'sd-turbo', size: 512, steps: 2, threads: 2, requests: 2, runs: 1, concurrency: [1, 2] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--shape') {
      if (!(value in DIFFUSION_SHAPES)) throw new Error(`unknown shape '${value}' (${Object.keys(DIFFUSION_SHAPES).join(', ')})`);
      args.shape = value as DiffusionShapeName;
    } else if (flag === '--size') args.size = Number(value);
    else if (flag === '--steps') args.steps = Number(value);
    else if (flag === '--threads') args.threads = Number(value);
    else if (flag === '--requests') args.requests = Number(value);
    else if (flag === '--runs') args.runs = Number(value);
    else if (flag === '--concurrency') args.concurrency = value.split(',').map(Number);
    else if (flag === '--markdown') args.markdown = value;
    else throw new Error(`unknown argument '${flag}'`);
  }
  return args;
}

function log(msg: string): void {
  process.stderr.write(`[images-bench] ${msg}\n`);
}

/** Runs `total` calls with `concurrency` in flight; returns the wall seconds. */
async function closedLoop(concurrency: number, total: number, one: (seed: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await one(next++);
    }),
  );
  return (performance.now() - t0) / 1000;
}

const SIDES = ['direct', 'gateway'] as const;
type Side = (typeof SIDES)[number];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = join(ROOT, '.bench', `diffusion-${args.shape}`);
  const t0 = Date.now();
  // Always written afresh: a pipeline left by an older generator would be measured otherwise.
  const generated = generateDiffusionPipeline({ dir, shape: args.shape, seed: 1 });
  log(`generated ${dir} (${fmt(generated.params / 1e6, 1)} M parameters, ${fmt(generated.bytes / 2 ** 30, 2)} GiB) in ${fmt((Date.now() - t0) / 1000, 1)} s`);

  const runner = await startDiffusionRunner(dir, { threads: args.threads, device: 'cpu' });
  const request = { prompt: PROMPT, width: args.size, height: args.size, steps: args.steps, guidanceScale: 0, previews: 0 };
  const direct = async (seed: number): Promise<void> => {
    await runner.generate({ ...request, seed });
  };

  const entry = ['  - name: sd', '    backend: onnx', '    task: image-generation', `    path: ${JSON.stringify(dir)}`, `    threads: ${args.threads}`, '    guidance_scale: 0', `    max_side: ${Math.max(2048, args.size)}`, '    max_queue: 1000'];
  const { baseUrl, redis, gateway, worker, logs, stop } = await startOnnxBenchStack(ROOT, 'images', entry, 1, log);
  const viaGateway = async (seed: number): Promise<void> => {
    const res = await fetch(`${baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sd', prompt: PROMPT, size: `${args.size}x${args.size}`, steps: args.steps, seed }),
    });
    if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${await res.text()}\n${logs.slice(-20).join('')}`);
    await res.json();
  };
  try {
    log('warm-up');
    await direct(0);
    await viaGateway(0);
    const run: Record<Side, (seed: number) => Promise<void>> = { direct, gateway: viaGateway };
    const processes: Processes = { bench: process.pid, gateway: gateway.pid, worker: worker.pid, redis: redis.process.pid };
    const perImage = new Map<string, number[]>();
    for (let i = 0; i < args.runs; i++) {
      for (const c of args.concurrency) {
        const total = Math.max(c, args.requests);
        const order = i % 2 === 0 ? SIDES : [...SIDES].reverse();
        for (const side of order) {
          await waitForQuiet(processes, QUIET_MAX_SHARE, QUIET_TIMEOUT_MS);
          const wallS = await closedLoop(c, total, run[side]);
          const key = `${side}|${c}`;
          perImage.set(key, [...(perImage.get(key) ?? []), wallS / total]);
          log(`run ${i + 1}/${args.runs}: ${side}, c=${c}: ${total} images in ${fmt(wallS, 1)} s, ${fmt(wallS / total, 2)} s an image, ${fmt((total * args.steps) / wallS, 3)} steps/s`);
        }
      }
    }
    const rows = args.concurrency.map((c) => {
      const d = perImage.get(`direct|${c}`)!;
      const g = perImage.get(`gateway|${c}`)!;
      // Throughput ratio gateway / direct within each run (direct's seconds over the gateway's), then the median.
      const ratio = median(g.map((x, i) => d[i]! / x));
      return `| ${c} | ${fmt(median(d), 2)} s | ${fmt(median(g), 2)} s | ${fmt(args.steps / median(d), 3)} | ${fmt(args.steps / median(g), 3)} | ${fmt(ratio, 3)} |`;
    });
    const table = [
      `${args.shape} shapes, ${args.size}x${args.size}, ${args.steps} UNet steps an image, no guidance, ${args.threads} ONNX Runtime threads, ${cpus().length} CPUs; ` +
        `${args.requests} images a phase, ${args.runs} run(s); medians; ratio = direct seconds / gateway seconds per image (1 = no overhead).`,
      '',
      '| concurrency | s / image, direct | gateway | UNet steps/s, direct | gateway | gateway / direct |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows,
    ].join('\n');
    process.stdout.write(`${table}\n`);
    if (args.markdown) writeFileSync(args.markdown, `${table}\n`);
  } finally {
    await runner.dispose();
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
