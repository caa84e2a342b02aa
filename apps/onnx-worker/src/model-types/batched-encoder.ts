/**
 * What every text model type shares: a tokenizer and a transformers.js model loaded offline from
 * the model folder, token limits, and a dynamic batcher that pads the sequences of concurrent jobs
 * into one ONNX run and hands each job its own rows of the output.
 */
import { dirname, extname, basename } from 'node:path';
import type { OnnxModelDescriptor } from '@switchyard/contracts';
import { DynamicBatcher } from '../dynamic-batcher';
import { loadProgressCallback, type PreTrainedModel, type PreTrainedTokenizer, type Tensor, type TransformersModule } from '../transformers';
import { Rejection } from '@switchyard/runtime';
import type { ModelTypeContext } from './model-type';

/** One tokenized input (with its token type ids: 0 for the first text, 1 for a pair's second). */
export interface Sequence {
  ids: number[];
  typeIds: number[];
}

/** Turns a batch's output tensor into one row per sequence (pooled vector, logits, ...). */
export type RowReader = (output: Tensor, batch: Sequence[]) => Float32Array[];

export interface EncoderOptions {
  /** transformers.js auto class: the bare encoder, or one with a classification head. */
  head: 'none' | 'sequence-classification';
  /** The model output to read (`last_hidden_state`, `logits`). */
  output: string;
  rows: RowReader;
}

interface Encoded {
  input_ids: number[];
  token_type_ids?: number[];
}

export class BatchedEncoder {
  readonly contextSize: number;
  readonly vocabSize: number;
  private readonly batcher: DynamicBatcher<Sequence, Float32Array>;

  private constructor(
    private readonly lib: TransformersModule,
    readonly tokenizer: PreTrainedTokenizer,
    readonly model: PreTrainedModel,
    descriptor: OnnxModelDescriptor,
    ctx: ModelTypeContext,
    private readonly options: EncoderOptions,
  ) {
    const config = model.config as unknown as { max_position_embeddings?: number; vocab_size?: number };
    const tokenizerMax = Number(tokenizer.model_max_length);
    this.contextSize = Math.min(
      descriptor.contextSize,
      config.max_position_embeddings ?? Infinity,
      Number.isFinite(tokenizerMax) && tokenizerMax > 0 ? tokenizerMax : Infinity,
    );
    this.vocabSize = config.vocab_size ?? Number.MAX_SAFE_INTEGER;
    this.batcher = new DynamicBatcher((batch) => this.forward(batch), {
      maxBatch: descriptor.maxBatch,
      maxWaitMs: descriptor.batchWaitMs,
      othersComing: ctx.othersComing,
    });
  }

  static async load(descriptor: OnnxModelDescriptor, ctx: ModelTypeContext, options: EncoderOptions): Promise<BatchedEncoder> {
    const { lib } = ctx;
    const modelOptions = {
      dtype: 'fp32' as const,
      device: ctx.device,
      local_files_only: true,
      subfolder: dirname(descriptor.file),
      model_file_name: basename(descriptor.file, extname(descriptor.file)),
      session_options: { intraOpNumThreads: descriptor.threads, interOpNumThreads: 1 },
      ...loadProgressCallback(ctx.report),
    };
    const [tokenizer, model] = await Promise.all([
      lib.AutoTokenizer.from_pretrained(descriptor.path, { local_files_only: true }),
      options.head === 'none'
        ? lib.AutoModel.from_pretrained(descriptor.path, modelOptions)
        : lib.AutoModelForSequenceClassification.from_pretrained(descriptor.path, modelOptions),
    ]);
    return new BatchedEncoder(lib, tokenizer, model, descriptor, ctx, options);
  }

  /**
   * Tokenizes a text (or a pair) with the model's special tokens. Longer than the limit: a 400,
   * or cut to the limit when the request allows truncation (for a pair, the longer text is cut).
   */
  encode(text: string, param: string, truncate: boolean, pair?: string): Sequence {
    const encoded = this.tokenizer(text, {
      text_pair: pair ?? null,
      add_special_tokens: true,
      padding: false,
      truncation: truncate,
      max_length: this.contextSize,
      return_tensor: false,
      return_token_type_ids: true,
    }) as unknown as Encoded;
    const ids = encoded.input_ids;
    this.checkLength(ids.length, param);
    return { ids, typeIds: encoded.token_type_ids ?? ids.map(() => 0) };
  }

  /** Token ids given by the client, used as they are (OpenAI's token-array input). */
  fromTokens(ids: number[], param: string, truncate: boolean): Sequence {
    const bad = ids.findIndex((t) => t >= this.vocabSize);
    if (bad >= 0) {
      throw Rejection.badRequest(`Invalid token id ${ids[bad]} in '${param}': this model's vocabulary has ${this.vocabSize} tokens.`, param, 'invalid_token_id');
    }
    const kept = truncate ? ids.slice(0, this.contextSize) : ids;
    this.checkLength(kept.length, param);
    return { ids: kept, typeIds: kept.map(() => 0) };
  }

  private checkLength(tokens: number, param: string): void {
    if (tokens > this.contextSize) {
      throw Rejection.badRequest(
        `'${param}' has ${tokens} tokens; this model's maximum input length is ${this.contextSize} tokens. Shorten the input or set "truncate": true.`,
        param,
        'context_length_exceeded',
      );
    }
  }

  /** One output row per sequence, computed in batches shared with concurrent jobs. */
  infer(sequences: Sequence[]): Promise<Float32Array[]> {
    return this.batcher.submit(sequences);
  }

  poke(): void {
    this.batcher.poke();
  }

  get stats(): DynamicBatcher<Sequence, Float32Array>['stats'] {
    return this.batcher.stats;
  }

  /** Pads the batch to its longest sequence and runs the model once. */
  private async forward(batch: Sequence[]): Promise<Float32Array[]> {
    const width = Math.max(...batch.map((s) => s.ids.length));
    const size = batch.length * width;
    const ids = new BigInt64Array(size);
    const mask = new BigInt64Array(size);
    const types = new BigInt64Array(size);
    batch.forEach((s, row) => {
      const at = row * width;
      for (let i = 0; i < s.ids.length; i++) {
        ids[at + i] = BigInt(s.ids[i]);
        mask[at + i] = 1n;
        types[at + i] = BigInt(s.typeIds[i] ?? 0);
      }
    });
    const dims = [batch.length, width];
    const outputs = (await this.model({
      input_ids: new this.lib.Tensor('int64', ids, dims),
      attention_mask: new this.lib.Tensor('int64', mask, dims),
      token_type_ids: new this.lib.Tensor('int64', types, dims),
    })) as Record<string, Tensor>;
    const output = outputs[this.options.output];
    if (!output) throw new Error(`the model has no output '${this.options.output}' (it has ${Object.keys(outputs).join(', ')})`);
    return this.options.rows(output, batch);
  }

  async dispose(): Promise<void> {
    this.batcher.close(new Error('the model was unloaded'));
    await this.model.dispose();
  }
}
