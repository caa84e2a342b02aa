/**
 * Text-to-speech speed on a random-weight VITS voice with Piper "medium" dimensions (libs/model-gen):
 * time to the first audio and real-time factor (seconds of audio made per wall-clock second, all
 * clients together), side by side in one run:
 *
 * - **direct**: sherpa-onnx's OfflineTts in this process, the same threads, the text split into the
 *   same sentence pieces the worker uses and synthesized one after another (first audio = the first
 *   piece's samples; no encoding);
 * - **gateway pcm** and **gateway mp3**: `POST /v1/audio/speech` through the whole stack (HTTP →
 *   BullMQ/Redis → onnx worker: split, synthesize, resample to 24 kHz, encode → Redis → chunked
 *   HTTP body); first audio = the first body byte.
 *
 * Each at concurrency 1 and 4 (closed loop). Each phase is measured `--runs` times, in alternating
 * order; medians are reported.
 *
 *   npm run bench:speech -- [--shape piper-medium] [--threads 1] [--sentences 6] [--requests 8]
 *     [--runs 1] [--concurrency 1,4] [--markdown FILE]
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { splitSpeechText } from '@switchyard/audio';
import { generateVitsModel, VITS_SHAPES, type VitsShapeName } from '@switchyard/model-gen';
import { fmt, median } from './bench-stats';
import { waitForQuiet, type Processes } from './cpu-usage';
import { startOnnxBenchStack } from './onnx-stack';

const ROOT = resolve(__dirname, '..', '..');
const QUIET_MAX_SHARE = 0.15;
const QUIET_TIMEOUT_MS = 15_000;
/** The worker's piece sizes (text-to-speech.model-type.ts). */
const FIRST_PIECE_CHARS = 120;
const PIECE_CHARS = 300;
const OUTPUT_RATE = 24_000;

interface Args {
  shape: VitsShapeName;
  threads: number;
  sentences: number;
  requests: number;
  runs: number;
  concurrency: number[];
  markdown?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { shape: 'piper-medium', threads: 1, sentences: 6, requests: 8, runs: 1, concurrency: [1, 4] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--shape') {
      if (!(value in VITS_SHAPES)) throw new Error(`unknown shape '${value}' (${Object.keys(VITS_SHAPES).join(', ')})`);
      args.shape = value as VitsShapeName;
    } else if (flag === '--threads') args.threads = Number(value);
    else if (flag === '--sentences') args.sentences = Number(value);
    else if (flag === '--requests') args.requests = Number(value);
    else if (flag === '--runs') args.runs = Number(value);
    else if (flag === '--markdown') args.markdown = value;
    else if (flag === '--concurrency') args.concurrency = value.split(',').map(Number);
    else throw new Error(`unknown argument '${flag}'`);
  }
  return args;
}

function log(msg: string): void {
  process.stderr.write(`[speech-bench] ${msg}\n`);
}

interface Sherpa {
  OfflineTts: {
    createAsync(config: object): Promise<{ sampleRate: number; generateAsync(r: { text: string; sid: number; speed: number }): Promise<{ samples: Float32Array }> }>;
  };
}

/** One request's numbers: time to the first audio, whole time, seconds of audio. */
interface Sample {
  firstMs: number;
  totalMs: number;
  audioS: number;
}

/** Runs `total` calls with `concurrency` in flight; returns wall seconds and every call's sample. */
async function closedLoop(concurrency: number, total: number, one: () => Promise<Sample>): Promise<{ wallS: number; samples: Sample[] }> {
  let next = 0;
  const samples: Sample[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) samples.push(await one());
    }),
  );
  return { wallS: (performance.now() - t0) / 1000, samples };
}

const SIDES = ['direct', 'gateway pcm', 'gateway mp3'] as const;
type Side = (typeof SIDES)[number];

interface Phase {
  rtf: number[];
  firstMs: number[];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const text = Array.from({ length: args.sentences }, (_, i) => `This is sentence number ${i + 1} of the benchmark, and it is of an ordinary length.`).join(' ');
  const dir = join(ROOT, '.bench', `vits-${args.shape}`);
  // Always written afresh (under a second): a voice left by an older generator would be measured otherwise.
  const t0 = Date.now();
  generateVitsModel({ dir, shape: args.shape, seed: 1 });
  log(`generated ${dir} in ${Date.now() - t0} ms`);

  // Direct side: sherpa in this process.
  const sherpa = createRequire(__filename)('sherpa-onnx-node') as Sherpa;
  const tts = await sherpa.OfflineTts.createAsync({
    model: { vits: { model: join(dir, 'model.onnx'), tokens: join(dir, 'tokens.txt') }, numThreads: args.threads, provider: 'cpu', debug: false },
    maxNumSentences: 1,
  });
  const pieces = splitSpeechText(text, { firstMaxChars: FIRST_PIECE_CHARS, maxChars: PIECE_CHARS });
  let turn: Promise<unknown> = Promise.resolve();
  /** Pieces of concurrent direct calls take turns on the one engine, as the worker's do. */
  const synth = (piece: string): Promise<Float32Array> => {
    const run = turn.then(async () => (await tts.generateAsync({ text: piece, sid: 0, speed: 1 })).samples);
    turn = run.catch(() => undefined);
    return run;
  };
  const direct = async (): Promise<Sample> => {
    const t0 = performance.now();
    let firstMs = 0;
    let samples = 0;
    let next = synth(pieces[0]);
    for (let i = 0; i < pieces.length; i++) {
      const audio = await next;
      if (i === 0) firstMs = performance.now() - t0;
      if (i + 1 < pieces.length) next = synth(pieces[i + 1]);
      samples += audio.length;
    }
    return { firstMs, totalMs: performance.now() - t0, audioS: samples / tts.sampleRate };
  };

  // Gateway side.
  const entry = ['  - name: voice', '    backend: onnx', '    task: text-to-speech', `    path: ${JSON.stringify(dir)}`, `    threads: ${args.threads}`, '    max_queue: 1000'];
  const { baseUrl, redis, gateway, worker, logs, stop } = await startOnnxBenchStack(ROOT, 'speech', entry, 1, log);
  const speak = async (format: 'pcm' | 'mp3'): Promise<Sample> => {
    const t0 = performance.now();
    const res = await fetch(`${baseUrl}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'voice', voice: 'alloy', input: text, response_format: format }),
    });
    if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${await res.text()}\n${logs.slice(-20).join('')}`);
    const reader = res.body!.getReader();
    let firstMs = 0;
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (bytes === 0) firstMs = performance.now() - t0;
      bytes += value.length;
    }
    // pcm: 2 bytes a sample at 24 kHz; mp3's duration is taken as pcm's (the same text and voice).
    return { firstMs, totalMs: performance.now() - t0, audioS: format === 'pcm' ? bytes / 2 / OUTPUT_RATE : Number.NaN };
  };
  try {
    log('warm-up');
    const reference = await direct();
    const pcm = await speak('pcm');
    await speak('mp3');
    log(`${pieces.length} pieces, ${fmt(reference.audioS, 2)} s of audio direct, ${fmt(pcm.audioS, 2)} s through the gateway`);
    const run: Record<Side, () => Promise<Sample>> = {
      direct,
      'gateway pcm': () => speak('pcm'),
      'gateway mp3': async () => ({ ...(await speak('mp3')), audioS: pcm.audioS }),
    };
    const processes: Processes = { bench: process.pid, gateway: gateway.pid, worker: worker.pid, redis: redis.process.pid };
    const phases = new Map<string, Phase>();
    for (let i = 0; i < args.runs; i++) {
      for (const c of args.concurrency) {
        const total = c === 1 ? Math.max(2, Math.round(args.requests / 2)) : args.requests;
        const order = i % 2 === 0 ? SIDES : [...SIDES].reverse();
        for (const side of order) {
          await waitForQuiet(processes, QUIET_MAX_SHARE, QUIET_TIMEOUT_MS);
          const { wallS, samples } = await closedLoop(c, total, run[side]);
          const rtf = samples.reduce((n, s) => n + s.audioS, 0) / wallS;
          const firstMs = median(samples.map((s) => s.firstMs));
          const phase = phases.get(`${side}|${c}`) ?? { rtf: [], firstMs: [] };
          phase.rtf.push(rtf);
          phase.firstMs.push(firstMs);
          phases.set(`${side}|${c}`, phase);
          log(`run ${i + 1}/${args.runs}: ${side}, c=${c}: ${total} requests in ${fmt(wallS, 2)} s, ${fmt(rtf, 2)}× real time, first audio ${fmt(firstMs)} ms (median)`);
        }
      }
    }
    const rows: string[] = [];
    for (const c of args.concurrency) {
      const get = (side: Side): Phase => phases.get(`${side}|${c}`)!;
      const d = get('direct');
      // Ratios within each run, then their median: the machine's speed drifts between runs.
      const ratio = (side: Side, key: keyof Phase): string => fmt(median(get(side)[key].map((x, i) => x / d[key][i])), 2);
      const cell = (side: Side, key: keyof Phase): string => fmt(median(get(side)[key]), key === 'rtf' ? 2 : 1);
      rows.push(
        `| ${c} | ${cell('direct', 'firstMs')} ms | ${cell('gateway pcm', 'firstMs')} ms | ${cell('gateway mp3', 'firstMs')} ms | ${ratio('gateway pcm', 'firstMs')} / ${ratio('gateway mp3', 'firstMs')} | ` +
          `${cell('direct', 'rtf')}× | ${cell('gateway pcm', 'rtf')}× | ${cell('gateway mp3', 'rtf')}× | ${ratio('gateway pcm', 'rtf')} / ${ratio('gateway mp3', 'rtf')} |`,
      );
    }
    const md = [
      `Voice: random-weight VITS, ${args.shape} dimensions, ${tts.sampleRate} Hz, threads ${args.threads}; text: ${args.sentences} sentences (${text.length} characters, ` +
        `${pieces.length} pieces, ${fmt(reference.audioS, 2)} s of audio); ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}); ${args.runs} run(s), ` +
        `${args.requests} requests per phase at concurrency > 1 (${Math.max(2, Math.round(args.requests / 2))} at 1); medians; ratios are each run's gateway / direct, their median.`,
      '',
      '| concurrency | first audio, direct | gateway pcm | gateway mp3 | ratio (pcm / mp3) | RTF direct | gateway pcm | gateway mp3 | ratio (pcm / mp3) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
    ].join('\n');
    process.stdout.write(md);
    if (args.markdown) writeFileSync(args.markdown, md);
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
