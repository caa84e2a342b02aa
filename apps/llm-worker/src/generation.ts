/**
 * One generation on one context sequence: prompt → tokens, reuse of the cached prefix, the sampling
 * loop, incremental UTF-8-safe detokenization, stop sequences, limits and cancellation. It emits
 * backend-neutral events through `sink`; it knows nothing about Redis or HTTP.
 */
import type { FinishReason, LlmJobData, SamplingParams, Usage } from '@switchyard/contracts';
import type {
  ChatHistoryItem,
  LlamaContextSequence,
  LlamaContextSequenceRepeatPenalty,
  LlamaModel,
  NodeLlamaCppModule,
  Token,
} from './node-llama-cpp';
import { StopDetector } from './stop-detector';

/** A request the worker rejects before generating (maps to a 4xx). */
export class GenerationRejected extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly param: string | null,
  ) {
    super(message);
  }
}

export interface GenerationSink {
  start(promptTokens: number): void;
  delta(text: string): void;
}

export interface GenerationResult {
  finishReason: FinishReason;
  usage: Usage;
  aborted: boolean;
}

type ChatWrapper = NonNullable<ReturnType<NodeLlamaCppModule['resolveChatWrapper']>>;

/** llama.cpp's server default window for the repeat penalty. */
const REPEAT_LAST_N = 64;

export class PromptBuilder {
  private readonly wrapper: ChatWrapper;
  constructor(
    private readonly lib: NodeLlamaCppModule,
    private readonly model: LlamaModel,
  ) {
    this.wrapper = lib.resolveChatWrapper(model, { warningLogs: false });
  }

  get wrapperName(): string {
    return this.wrapper.wrapperName;
  }

  /** Tokens of the prompt plus extra stop texts the chat template declares. */
  build(job: LlmJobData): { tokens: Token[]; templateStops: string[] } {
    if (job.kind === 'completion') {
      if (Array.isArray(job.prompt)) return { tokens: job.prompt as Token[], templateStops: [] };
      const tokens = this.model.tokenize(job.prompt, false);
      const bos = this.model.tokens.bos;
      if (bos !== null && this.model.tokens.shouldPrependBosToken) tokens.unshift(bos);
      return { tokens, templateStops: [] };
    }
    const history: ChatHistoryItem[] = [];
    for (const m of job.messages) {
      if (m.role === 'assistant') history.push({ type: 'model', response: [m.content] });
      else if (m.role === 'user') history.push({ type: 'user', text: m.content });
      else history.push({ type: 'system', text: m.content });
    }
    // The template adds the assistant's opening only when the history ends with a model turn.
    history.push({ type: 'model', response: [] });
    const state = this.wrapper.generateContextState({ chatHistory: history });
    const tokens = state.contextText.tokenize(this.model.tokenizer);
    const templateStops: string[] = [];
    for (const trigger of state.stopGenerationTriggers) {
      // Triggers made only of special tokens end generation as end-of-generation tokens; text ones
      // (e.g. "\n### Human:") become stop strings.
      const text = trigger.values.every((v) => typeof v === 'string') ? trigger.values.join('') : '';
      if (text.length > 0) templateStops.push(text);
    }
    return { tokens, templateStops };
  }
}

/** llama.cpp-style repeat penalty over the recent window; OpenAI's presence/frequency over all output. */
function penalties(sampling: SamplingParams, generated: Token[]): LlamaContextSequenceRepeatPenalty | undefined {
  const repeat = sampling.repeatPenalty ?? 1;
  const presence = sampling.presencePenalty ?? 0;
  const frequency = sampling.frequencyPenalty ?? 0;
  if (repeat === 1 && presence === 0 && frequency === 0) return undefined;
  return {
    punishTokens: () => (repeat !== 1 ? generated.slice(-REPEAT_LAST_N) : generated),
    penalty: repeat,
    presencePenalty: presence,
    frequencyPenalty: frequency,
  };
}

function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** How many prompt tokens of `sequence`'s cache match, for picking the warmest free sequence. */
export function cachedPrefix(sequence: LlamaContextSequence, tokens: readonly Token[]): number {
  return commonPrefixLength(sequence.contextTokens, tokens);
}

export async function runGeneration(options: {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  contextSize: number;
  tokens: Token[];
  templateStops: string[];
  /** The request field the prompt came from, for error messages. */
  promptParam: 'messages' | 'prompt';
  sampling: SamplingParams;
  signal: AbortSignal;
  sink: GenerationSink;
}): Promise<GenerationResult> {
  const { model, sequence, contextSize, tokens, sampling, signal, sink } = options;
  if (tokens.length === 0) throw new GenerationRejected('The prompt is empty.', 'empty_prompt', options.promptParam);
  if (tokens.length >= contextSize) {
    throw new GenerationRejected(
      `This model's maximum context length is ${contextSize} tokens. However, your prompt has ${tokens.length} tokens, leaving no room for a completion.`,
      'context_length_exceeded',
      options.promptParam,
    );
  }
  const room = contextSize - tokens.length;
  const limit = sampling.maxTokens === undefined ? room : Math.min(sampling.maxTokens, room);

  // Reuse the KV cache for the longest matching prefix; at least one token must be evaluated to
  // get logits for the first sampled token.
  let keep = commonPrefixLength(sequence.contextTokens, tokens);
  if (keep >= tokens.length) keep = tokens.length - 1;
  if (keep < sequence.nextTokenIndex) {
    await sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]);
  }
  sink.start(tokens.length);

  const generated: Token[] = [];
  const stop = new StopDetector([...sampling.stop, ...options.templateStops]);
  let pending: Token[] = [];
  let finishReason: FinishReason = 'stop';
  let aborted = false;

  if (limit <= 0) return { finishReason: 'length', usage: { promptTokens: tokens.length, completionTokens: 0 }, aborted };

  const greedy = sampling.temperature <= 0;
  const iterator = sequence.evaluate(tokens.slice(keep), {
    temperature: greedy ? 0 : sampling.temperature,
    topP: sampling.topP < 1 ? sampling.topP : undefined,
    topK: sampling.topK,
    minP: sampling.minP,
    seed: greedy ? undefined : (sampling.seed ?? Math.floor(Math.random() * 2 ** 31)),
    repeatPenalty: penalties(sampling, generated),
    // The limit above keeps prompt + output inside the window, so no context shift ever drops the prompt.
    yieldEogToken: false,
  });

  let stopped = false;
  try {
    for await (const token of iterator) {
      if (signal.aborted) {
        aborted = true;
        break;
      }
      generated.push(token);
      pending.push(token);
      // The preceding tokens let the detokenizer decide on a leading space the way it would in context.
      const before = generated.length - pending.length;
      const context = before > 0 ? generated.slice(Math.max(0, before - 4), before) : tokens.slice(-4);
      const piece = model.detokenize(pending, false, context);
      // A token can end inside a multi-byte character: wait for the rest before emitting.
      if (!piece.endsWith('\uFFFD')) {
        pending = [];
        const r = stop.push(piece);
        if (r.emit.length > 0) sink.delta(r.emit);
        if (r.stopped) {
          stopped = true;
          break;
        }
      }
      if (generated.length >= limit) {
        finishReason = 'length';
        break;
      }
    }
  } finally {
    await iterator.return(undefined);
  }
  if (signal.aborted) aborted = true;
  if (!stopped && !aborted) {
    const rest = stop.flush();
    if (rest.length > 0) sink.delta(rest);
  }
  return { finishReason, usage: { promptTokens: tokens.length, completionTokens: generated.length }, aborted };
}
