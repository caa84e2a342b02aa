/**
 * Generates a random-weight llama GGUF model.
 *
 *   node dist/tools/generate-model.js --out FILE [--shape tiny|smollm2-135m|qwen2.5-0.5b]
 *     [--quant f32|f16|q8_0] [--seed N] [--thinking] [--no-template] [--context N] [--name NAME]
 *     [--if-missing]
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { generateLlamaModel, LLAMA_SHAPES, type LlamaShapeName, type ModelQuant } from '@switchyard/model-gen';

const USAGE =
  'usage: generate-model --out FILE [--shape ' +
  Object.keys(LLAMA_SHAPES).join('|') +
  '] [--quant f32|f16|q8_0] [--seed N] [--thinking] [--no-template] [--context N] [--name NAME] [--if-missing]';

interface CliArgs {
  out?: string;
  shape: LlamaShapeName;
  quant?: ModelQuant;
  seed: number;
  thinking: boolean;
  noTemplate: boolean;
  ifMissing: boolean;
  context?: number;
  name?: string;
}

function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { shape: 'tiny', seed: 1, thinking: false, noTemplate: false, ifMissing: false };
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
      case '--shape': {
        const s = value();
        if (!(s in LLAMA_SHAPES)) throw new Error(`unknown shape '${s}'`);
        args.shape = s as LlamaShapeName;
        break;
      }
      case '--quant': {
        const q = value();
        if (q !== 'f32' && q !== 'f16' && q !== 'q8_0') throw new Error(`unknown quant '${q}'`);
        args.quant = q;
        break;
      }
      case '--seed':
        args.seed = int();
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
  return args;
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
  const out = resolve(args.out);
  if (args.ifMissing && existsSync(out)) {
    console.log(`${out} exists (${formatBytes(statSync(out).size)}), skipped`);
    return;
  }
  await mkdir(dirname(out), { recursive: true });
  const t0 = process.hrtime.bigint();
  const model = await generateLlamaModel({
    path: out,
    shape: args.shape,
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
