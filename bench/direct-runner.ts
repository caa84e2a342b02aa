/**
 * The baseline: node-llama-cpp inside the bench process, set up the way the llm worker sets up a
 * model (one context, `parallel` sequences, same context and batch size, same threads) and driven the
 * way it drives a generation (prefix reuse, greedy evaluate loop, per-token detokenize), minus Redis
 * and HTTP.
 */
import type * as NodeLlamaCpp from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import type {
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaModel,
  Token,
} from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import type { StreamSample } from './bench-stats';

export interface DirectOptions {
  modelPath: string;
  contextSize: number;
  sequences: number;
  threads: number;
}

function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class DirectRunner {
  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly sequences: LlamaContextSequence[],
  ) {}

  static async load(options: DirectOptions): Promise<DirectRunner> {
    const lib: typeof NodeLlamaCpp = await import('node-llama-cpp');
    const llama = await lib.getLlama({ build: 'never', gpu: false, logLevel: lib.LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: options.modelPath });
    const context = await model.createContext({
      contextSize: options.contextSize,
      sequences: options.sequences,
      threads: options.threads,
      batchSize: Math.min(512, options.contextSize),
    });
    const sequences = Array.from({ length: options.sequences }, () => context.getSequence());
    return new DirectRunner(llama, model, context, sequences);
  }

  /** Tokenizes the way the worker does for a /v1/completions string prompt. */
  tokenize(prompt: string): Token[] {
    const tokens = this.model.tokenize(prompt, false);
    const bos = this.model.tokens.bos;
    if (bos !== null && this.model.tokens.shouldPrependBosToken) tokens.unshift(bos);
    return tokens;
  }

  /** Runs one generation per prompt, all at once (node-llama-cpp batches them). */
  run(prompts: string[], maxTokens: number): Promise<StreamSample[]> {
    if (prompts.length > this.sequences.length) throw new Error(`${prompts.length} prompts but ${this.sequences.length} sequences`);
    return Promise.all(prompts.map((p, i) => this.generate(this.sequences[i], p, maxTokens)));
  }

  private async generate(sequence: LlamaContextSequence, prompt: string, maxTokens: number): Promise<StreamSample> {
    const startAt = performance.now();
    const tokens = this.tokenize(prompt);
    let keep = commonPrefixLength(sequence.contextTokens, tokens);
    if (keep >= tokens.length) keep = tokens.length - 1;
    if (keep < sequence.nextTokenIndex) {
      await sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]);
    }
    const generated: Token[] = [];
    let firstAt = Number.NaN;
    let lastAt = Number.NaN;
    const times: number[] = [];
    const iterator = sequence.evaluate(tokens.slice(keep), { temperature: 0, yieldEogToken: false });
    try {
      for await (const token of iterator) {
        generated.push(token);
        const context = generated.length > 1 ? generated.slice(-5, -1) : tokens.slice(-4);
        const piece = this.model.detokenize([token], false, context);
        const now = performance.now();
        if (piece.length > 0) {
          if (Number.isNaN(firstAt)) firstAt = now;
          lastAt = now;
          times.push(now);
        }
        if (generated.length >= maxTokens) break;
      }
    } finally {
      await iterator.return(undefined);
    }
    return { startAt, firstAt, lastAt, tokens: generated.length, chunks: times.length, times };
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
