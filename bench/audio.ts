/**
 * Speech-to-text speed, as a real-time factor (seconds of audio transcribed per wall-clock second,
 * all clients together), for random-weight Whispers with whisper-tiny's and whisper-base's
 * dimensions and 51,865-token vocabulary (libs/model-gen), on one ~20 s clip of tone bursts:
 *
 * - **direct**: transformers.js's automatic-speech-recognition pipeline called in this process on
 *   the clip's 16 kHz samples (greedy, `return_timestamps: true`, the same threads);
 * - **gateway**: `POST /v1/audio/transcriptions` through the whole stack (HTTP multipart upload →
 *   BullMQ/Redis → onnx worker: WAV decode, windowing, encoder batched across jobs, decode →
 *   Redis → HTTP), with the encoder batched (`max_batch: 8`) and without (`max_batch: 1`, the
 *   same folder loaded a second time under another name),
 *
 * each at concurrency 1 and 8 (closed loop: a client sends its next request when the last one
 * answered). The served models run plain greedy decoding (temperature fallback and its checks off)
 * so both sides do the same work: with the checks on, the random weights' low logprobs would send
 * every window through six decodes. Each phase is measured `--runs` times; medians are reported.
 *
 *   npm run bench:audio -- [--shapes whisper-tiny,whisper-base] [--seconds 20] [--threads 1]
 *     [--requests 8] [--runs 1] [--concurrency 1,8] [--markdown FILE]
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { generateWhisperModel, WHISPER_SHAPES, type WhisperShapeName } from '@switchyard/model-gen';
import { fmt, median } from './bench-stats';
import { startOnnxBenchStack } from './onnx-stack';
import { waitForQuiet, type Processes } from './cpu-usage';

const ROOT = resolve(__dirname, '..', '..');
const RATE = 16_000;
const QUIET_MAX_SHARE = 0.15;
const QUIET_TIMEOUT_MS = 15_000;

interface Args {
  shapes: WhisperShapeName[];
  seconds: number;
  threads: number;
  /** Requests per phase at concurrency 8 (concurrency 1 sends a quarter as many, at least 2). */
  requests: number;
  runs: number;
  concurrency: number[];
  markdown?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { shapes: ['whisper-tiny', 'whisper-base'], seconds: 20, threads: 1, requests: 8, runs: 1, concurrency: [1, 8] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--shapes') {
      args.shapes = value.split(',').map((s) => {
        if (!(s in WHISPER_SHAPES)) throw new Error(`unknown shape '${s}' (${Object.keys(WHISPER_SHAPES).join(', ')})`);
        return s as WhisperShapeName;
      });
    } else if (flag === '--seconds') args.seconds = Number(value);
    else if (flag === '--threads') args.threads = Number(value);
    else if (flag === '--requests') args.requests = Number(value);
    else if (flag === '--runs') args.runs = Number(value);
    else if (flag === '--markdown') args.markdown = value;
    else if (flag === '--concurrency') args.concurrency = value.split(',').map(Number);
    else throw new Error(`unknown argument '${flag}'`);
  }
  if (!(args.seconds > 0 && args.seconds <= 30)) throw new Error('--seconds must be in (0, 30]: one window, which the pipeline decodes without chunking');
  return args;
}

function log(msg: string): void {
  process.stderr.write(`[audio-bench] ${msg}\n`);
}

/** Tone bursts of 4 s with 1.5 s gaps, `seconds` long: one segment per burst. */
function burstClip(seconds: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < out.length; i++) {
    const t = i / RATE;
    const cycle = Math.floor(t / 5.5);
    if (t - cycle * 5.5 < 4) out[i] = 0.5 * Math.sin(2 * Math.PI * (cycle % 2 === 0 ? 440 : 660) * t);
  }
  return out;
}

/** A mono 32-bit float WAV: the worker decodes exactly these samples. */
function floatWav(samples: Float32Array): Buffer {
  const data = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const head = Buffer.alloc(44);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(36 + data.length, 4);
  head.write('WAVEfmt ', 8, 'latin1');
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(3, 20);
  head.writeUInt16LE(1, 22);
  head.writeUInt32LE(RATE, 24);
  head.writeUInt32LE(RATE * 4, 28);
  head.writeUInt16LE(4, 32);
  head.writeUInt16LE(32, 34);
  head.write('data', 36, 'latin1');
  head.writeUInt32LE(data.length, 40);
  return Buffer.concat([head, data]);
}

/** Runs `total` calls with `concurrency` in flight; returns wall seconds. */
async function closedLoop(concurrency: number, total: number, one: () => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await one();
    }),
  );
  return (performance.now() - t0) / 1000;
}

type Asr = (audio: Float32Array, options: Record<string, unknown>) => Promise<{ text: string }>;

interface ShapeResult {
  shape: WhisperShapeName;
  params: number;
  /** Median RTF per phase key `side|concurrency`. */
  rtf: Map<string, number>;
  texts: { direct: string; gateway: string };
}

const SIDES = ['direct', 'gateway, batching', 'gateway, no batching'] as const;
type Side = (typeof SIDES)[number];

async function benchShape(shape: WhisperShapeName, args: Args, clip: Float32Array, wav: Buffer): Promise<ShapeResult> {
  const dir = join(ROOT, '.bench', `whisper-${shape}`);
  if (!existsSync(join(dir, 'onnx', 'decoder_model_merged.onnx'))) {
    const t0 = Date.now();
    generateWhisperModel({ dir, shape, seed: 1 });
    log(`generated ${dir} in ${Date.now() - t0} ms`);
  }
  const audioS = clip.length / RATE;

  // Direct side: the pipeline in this process.
  const lib = await import('@huggingface/transformers');
  lib.env.allowRemoteModels = false;
  const pipe = (await lib.pipeline('automatic-speech-recognition', dir, {
    local_files_only: true,
    session_options: { intraOpNumThreads: args.threads, interOpNumThreads: 1 },
  })) as unknown as Asr & { dispose(): Promise<void> };
  const direct = async (): Promise<string> => (await pipe(clip, { language: 'en', task: 'transcribe', return_timestamps: true })).text.trim();

  // Gateway side: redis, gateway, one onnx worker serving the folder twice.
  const entry = (name: string, maxBatch?: number): string[] => [
    `  - name: ${name}`,
    '    backend: onnx',
    '    task: speech-recognition',
    `    path: ${JSON.stringify(dir)}`,
    `    threads: ${args.threads}`,
    ...(maxBatch !== undefined ? [`    max_batch: ${maxBatch}`] : []),
    '    temperature_fallback: [0]',
    '    compression_ratio_threshold: null',
    '    logprob_threshold: null',
    '    no_speech_threshold: null',
    '    max_queue: 1000',
  ];
  const { baseUrl, redis, gateway, worker, logs, stop } = await startOnnxBenchStack(ROOT, 'audio', [...entry('batched', 8), ...entry('unbatched', 1)], 2, log);
  try {
    await new Promise((res) => setTimeout(res, 300));
    const transcribe = async (name: string): Promise<string> => {
      const form = new FormData();
      form.append('model', name);
      form.append('language', 'en');
      form.append('file', new Blob([new Uint8Array(wav)], { type: 'audio/wav' }), 'clip.wav');
      const res = await fetch(`${baseUrl}/v1/audio/transcriptions`, { method: 'POST', body: form });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${body}\n${logs.slice(-20).join('')}`);
      return (JSON.parse(body) as { text: string }).text;
    };
    const run: Record<Side, () => Promise<string>> = {
      direct,
      'gateway, batching': () => transcribe('batched'),
      'gateway, no batching': () => transcribe('unbatched'),
    };
    log(`${shape}: warm-up`);
    const texts = { direct: await direct(), gateway: await transcribe('batched') };
    await transcribe('unbatched');
    if (texts.direct !== texts.gateway) log(`${shape}: the texts differ: direct '${texts.direct}', gateway '${texts.gateway}'`);

    const processes: Processes = { bench: process.pid, gateway: gateway.pid, worker: worker.pid, redis: redis.process.pid };
    const rtf = new Map<string, number[]>();
    for (let i = 0; i < args.runs; i++) {
      for (const c of args.concurrency) {
        const total = c === 1 ? Math.max(2, Math.round(args.requests / 4)) : args.requests;
        // Alternate the order, so drift on a shared machine hits every side.
        const order = i % 2 === 0 ? SIDES : [...SIDES].reverse();
        for (const side of order) {
          await waitForQuiet(processes, QUIET_MAX_SHARE, QUIET_TIMEOUT_MS);
          const wallS = await closedLoop(c, total, async () => {
            await run[side]();
          });
          const value = (total * audioS) / wallS;
          rtf.set(`${side}|${c}`, [...(rtf.get(`${side}|${c}`) ?? []), value]);
          log(`${shape} run ${i + 1}/${args.runs}: ${side}, c=${c}: ${total} × ${fmt(audioS)} s in ${fmt(wallS, 2)} s = ${fmt(value, 2)}× real time`);
        }
      }
    }
    await pipe.dispose();
    return { shape, params: paramsOnDisk(dir), rtf: new Map([...rtf].map(([k, v]) => [k, median(v)])), texts };
  } finally {
    await stop();
  }
}

/** Parameters, from the float32 graphs' sizes (the folder may be cached from an earlier run). */
function paramsOnDisk(dir: string): number {
  const size = (f: string): number => statSync(join(dir, 'onnx', f)).size;
  return (size('encoder_model.onnx') + size('decoder_model_merged.onnx')) / 4;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const clip = burstClip(args.seconds);
  const wav = floatWav(clip);
  const results: ShapeResult[] = [];
  for (const shape of args.shapes) results.push(await benchShape(shape, args, clip, wav));

  const rows: string[] = [];
  const notes: string[] = [];
  for (const r of results) {
    const v = (side: Side, c: number): number => r.rtf.get(`${side}|${c}`) ?? Number.NaN;
    for (const c of args.concurrency) {
      rows.push(
        `| ${r.shape} (~${fmt(r.params / 1e6)}M) | ${c} | ${fmt(v('direct', c), 2)}× | ${fmt(v('gateway, batching', c), 2)}× | ${fmt(v('gateway, no batching', c), 2)}× | ` +
          `${fmt(v('gateway, batching', c) / v('direct', c), 2)} | ${fmt(v('gateway, batching', c) / v('gateway, no batching', c), 2)} |`,
      );
    }
    notes.push(`- ${r.shape}: gateway text ${r.texts.direct === r.texts.gateway ? 'equals' : 'differs from'} the pipeline's ('${r.texts.gateway}').`);
  }
  const md = [
    `Clip: ${fmt(args.seconds)} s of tone bursts (16 kHz float WAV upload), language en, response_format json; random-weight Whispers with the real models' dimensions; ` +
      `threads ${args.threads}; ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}); ${args.runs} run(s), ${args.requests} requests per phase at concurrency 8 ` +
      `(${Math.max(2, Math.round(args.requests / 4))} at 1); medians.`,
    '',
    '| model | concurrency | direct (transformers.js pipeline) RTF | gateway, batching RTF | gateway, max_batch 1 RTF | gateway / direct | batching gain |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'RTF: seconds of audio transcribed per wall-clock second, all clients together (higher is better).',
    ...notes,
  ].join('\n');
  process.stdout.write(`${md}\n`);
  if (args.markdown) writeFileSync(args.markdown, `${md}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`audio-bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
