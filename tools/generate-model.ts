/**
 * Generates a random-weight llama GGUF model, or (with --onnx) a random-weight BERT-style ONNX model
 * folder for the onnx worker, or (with --kind whisper) a random-weight Whisper speech-to-text folder.
 *
 *   node dist/tools/generate-model.js --out FILE [--shape tiny|smollm2-135m|qwen2.5-0.5b]
 *     [--quant f32|f16|q8_0] [--seed N] [--thinking] [--no-template] [--context N] [--name NAME]
 *     [--if-missing]
 *   node dist/tools/generate-model.js --onnx embeddings|classifier|reranker --out DIR
 *     [--shape tiny|minilm-l6] [--tokenizer HF_TOKENIZER_DIR] [--seed N] [--if-missing]
 *   node dist/tools/generate-model.js --kind whisper --out DIR [--shape tiny|whisper-tiny|whisper-base]
 *     [--seed N] [--no-cross-attentions] [--dtypes q8,int8,uint8,q4] [--if-missing]
 *   node dist/tools/generate-model.js --kind vits --out DIR [--shape tiny|piper-x-low|piper-medium] [--speakers N]
 *     [--seed N] [--if-missing]
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { join } from 'node:path';
import {
  BERT_SHAPES,
  generateBertModel,
  generateLlamaModel,
  generateVitsModel,
  generateWhisperModel,
  LLAMA_SHAPES,
  VITS_SHAPES,
  WHISPER_DTYPE_SUFFIXES,
  WHISPER_SHAPES,
  type BertShapeName,
  type BertTask,
  type LlamaShapeName,
  type ModelQuant,
  type VitsShapeName,
  type WhisperExtraDtype,
  type WhisperShapeName,
} from '@switchyard/model-gen';

const USAGE =
  'usage: generate-model --out FILE [--shape ' +
  Object.keys(LLAMA_SHAPES).join('|') +
  '] [--quant f32|f16|q8_0] [--seed N] [--thinking] [--no-template] [--context N] [--name NAME] [--if-missing]\n' +
  '       generate-model --onnx embeddings|classifier|reranker --out DIR [--shape ' +
  Object.keys(BERT_SHAPES).join('|') +
  '] [--tokenizer DIR] [--seed N] [--if-missing]\n' +
  '       generate-model --kind whisper --out DIR [--shape ' +
  Object.keys(WHISPER_SHAPES).join('|') +
  '] [--seed N] [--no-cross-attentions] [--dtypes ' +
  Object.keys(WHISPER_DTYPE_SUFFIXES).join(',') +
  '] [--if-missing]\n' +
  '       generate-model --kind vits --out DIR [--shape tiny|piper-x-low|piper-medium] [--speakers N] [--seed N] [--if-missing]';

interface CliArgs {
  out?: string;
  kind: 'llama' | 'bert' | 'whisper' | 'vits';
  /** Shape name: a llama shape, or a BERT shape with --onnx. */
  shape: string;
  onnx?: BertTask;
  tokenizer?: string;
  quant?: ModelQuant;
  seed: number;
  thinking: boolean;
  noTemplate: boolean;
  ifMissing: boolean;
  context?: number;
  name?: string;
  crossAttentions: boolean;
  dtypes: WhisperExtraDtype[];
  speakers?: number;
}

function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { kind: 'llama', shape: 'tiny', seed: 1, thinking: false, noTemplate: false, ifMissing: false, crossAttentions: true, dtypes: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = value();
      if (!/^-?\d+$/.test(v)) throw new Error(`${flag} needs an integer, got '${v}'`);
      return Number(v);
    };
    switch (flag) {
      case '--out':
      case '-o':
        args.out = value();
        break;
      case '--shape':
        args.shape = value();
        break;
      case '--onnx': {
        const task = value();
        if (task !== 'embeddings' && task !== 'classifier' && task !== 'reranker') throw new Error(`unknown onnx task '${task}'`);
        args.onnx = task;
        args.kind = 'bert';
        break;
      }
      case '--kind': {
        const kind = value();
        if (kind !== 'llama' && kind !== 'bert' && kind !== 'whisper' && kind !== 'vits') throw new Error(`unknown kind '${kind}' (llama, bert, whisper or vits)`);
        args.kind = kind;
        break;
      }
      case '--no-cross-attentions':
        args.crossAttentions = false;
        break;
      case '--dtypes':
        args.dtypes = value()
          .split(',')
          .map((d) => {
            if (!(d in WHISPER_DTYPE_SUFFIXES)) throw new Error(`unknown dtype '${d}'`);
            return d as WhisperExtraDtype;
          });
        break;
      case '--tokenizer':
        args.tokenizer = value();
        break;
      case '--quant': {
        const q = value();
        if (q !== 'f32' && q !== 'f16' && q !== 'q8_0') throw new Error(`unknown quant '${q}'`);
        args.quant = q;
        break;
      }
      case '--seed':
        args.seed = int();
        break;
      case '--speakers':
        args.speakers = int();
        break;
      case '--context':
        args.context = int();
        break;
      case '--name':
        args.name = value();
        break;
      case '--thinking':
        args.thinking = true;
        break;
      case '--no-template':
        args.noTemplate = true;
        break;
      case '--if-missing':
        args.ifMissing = true;
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument '${a}'`);
    }
  }
  if (args.kind === 'whisper') {
    if (args.shape in WHISPER_SHAPES) return args;
    throw new Error(`unknown Whisper shape '${args.shape}'`);
  }
  if (args.kind === 'vits') {
    if (args.shape in VITS_SHAPES) return args;
    throw new Error(`unknown VITS shape '${args.shape}' (${Object.keys(VITS_SHAPES).join(', ')})`);
  }
  if (args.kind === 'bert') {
    args.onnx ??= 'embeddings';
    if (args.shape === 'tiny' || args.shape in BERT_SHAPES) return args;
    throw new Error(`unknown BERT shape '${args.shape}'`);
  }
  if (!(args.shape in LLAMA_SHAPES)) throw new Error(`unknown shape '${args.shape}'`);
  return args;
}

function generateOnnx(args: CliArgs & { onnx: BertTask }, out: string): void {
  if (args.ifMissing && existsSync(join(out, 'onnx', 'model.onnx'))) {
    console.log(`${out} exists, skipped`);
    return;
  }
  const t0 = process.hrtime.bigint();
  const model = generateBertModel({
    dir: out,
    task: args.onnx,
    shape: args.shape as BertShapeName,
    seed: args.seed,
    tokenizerDir: args.tokenizer ? resolve(args.tokenizer) : undefined,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `${out} ${args.onnx} ${formatBytes(model.bytes)} onnx/model.onnx (${args.shape}, ${model.params.toLocaleString("en")} params, ` +
      `vocab ${model.vocabSize}${model.labels.length > 0 ? `, labels ${model.labels.join(',')}` : ''}, seed ${args.seed}) in ${seconds.toFixed(2)}s`,
  );
}

function generateWhisper(args: CliArgs, out: string): void {
  if (args.ifMissing && existsSync(join(out, 'onnx', 'decoder_model_merged.onnx'))) {
    console.log(`${out} exists, skipped`);
    return;
  }
  const t0 = process.hrtime.bigint();
  const model = generateWhisperModel({
    dir: out,
    shape: args.shape as WhisperShapeName,
    seed: args.seed,
    crossAttentions: args.crossAttentions,
    extraDtypes: args.dtypes,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `${out} whisper ${formatBytes(model.encoderBytes)} encoder + ${formatBytes(model.decoderBytes)} decoder (${args.shape}, ` +
      `${(model.params / 1e6).toFixed(1)}M params, vocab ${model.vocabSize}, seed ${args.seed}) in ${seconds.toFixed(2)}s`,
  );
}

function generateVits(args: CliArgs, out: string): void {
  if (args.ifMissing && existsSync(join(out, 'model.onnx'))) {
    console.log(`${out} exists, skipped`);
    return;
  }
  const t0 = process.hrtime.bigint();
  const model = generateVitsModel({ dir: out, shape: args.shape as VitsShapeName, seed: args.seed, ...(args.speakers !== undefined ? { speakers: args.speakers } : {}) });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${out} vits ${formatBytes(model.bytes)} model.onnx + tokens.txt (${args.shape}, ${model.speakers} speaker(s), ${model.sampleRate} Hz, seed ${args.seed}) in ${seconds.toFixed(2)}s`);
}

function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

async function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
    if (!args.out) throw new Error('--out is required');
  } catch (err) {
    console.error(`generate-model: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const out = resolve(args.out!);
  if (args.kind === 'whisper') return generateWhisper(args, out);
  if (args.kind === 'vits') return generateVits(args, out);
  if (args.onnx) return generateOnnx({ ...args, onnx: args.onnx }, out);
  if (args.ifMissing && existsSync(out)) {
    console.log(`${out} exists (${formatBytes(statSync(out).size)}), skipped`);
    return;
  }
  await mkdir(dirname(out), { recursive: true });
  const t0 = process.hrtime.bigint();
  const model = await generateLlamaModel({
    path: out,
    shape: args.shape as LlamaShapeName,
    quant: args.quant,
    seed: args.seed,
    thinking: args.thinking,
    chatTemplate: args.noTemplate ? null : undefined,
    contextLength: args.context,
    name: args.name,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `${model.path} ${formatBytes(model.bytes)} (${model.bytes} bytes, ${args.shape}, ${model.quant}, ` +
      `${(model.params / 1e6).toFixed(1)}M params, seed ${model.seed}) in ${seconds.toFixed(2)}s`,
  );
}

main().catch((err: unknown) => {
  console.error(`generate-model: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
