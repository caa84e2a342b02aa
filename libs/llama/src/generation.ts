/**
 * One generation on one context sequence: reuse of the cached prefix, the sampling loop,
 * incremental UTF-8-safe detokenization, grammars (and the switch to a tool call's grammar mid-way),
 * log probabilities, limits and cancellation. Prompts come from PromptBuilder (prompt-builder.ts);
 * text goes through OutputShaper (output/output-shaper.ts) to the sink as backend-neutral deltas.
 * It knows nothing about Redis or HTTP.
 */
import type { FinishReason, SamplingParams, Usage } from '@switchyard/contracts';
import type { DecodeGate } from './decode-gate';
import { Rejection } from '@switchyard/runtime';
import { GenerationRejected } from './generation-errors';
import type { LlamaContextSequence, LlamaContextSequenceRepeatPenalty, LlamaModel, NodeLlamaCppModule, Token, TokenBias } from './node-llama-cpp';
import type { GenerationResult, GenerationSink, OutputPlan } from './output-plan';
import { OutputShaper } from './output/output-shaper';
import { TokenLogprobs } from './output/token-logprobs';
import type { SamplingGuard } from './sampling-guard';

/** llama.cpp's server default window for the repeat penalty. */
const REPEAT_LAST_N = 64;

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

/**
 * Generation with the `top` most likely alternatives per token, chosen natively: node-llama-cpp's
 * controlled evaluation returns the top logits and the total weight of the distribution
 * (sum of exp(logit - max)), so log probabilities cost no vocabulary-sized copy. Yields like
 * `evaluateWithMetadata`, as probabilities of the top tokens and the sampled one; ends at an
 * end-of-generation token. Each step gets its own seed (seed + step) so sampling stays random.
 */
async function* topLogprobTokens(
  model: LlamaModel,
  sequence: LlamaContextSequence,
  input: Token[],
  options: { temperature: number; topP: number; topK?: number; minP?: number; seed?: number; repeatPenalty?: LlamaContextSequenceRepeatPenalty; tokenBias?: TokenBias },
  top: number,
): AsyncGenerator<{ token: Token; probabilities: Map<Token, number> }, void, void> {
  let next = input;
  for (let step = 0; ; step++) {
    const last = next.length - 1;
    const generateNext = {
      token: true,
      logits: { filter: { tokens: [] as Token[], includeTop: top, includeSelected: true } },
      totalLogitWeight: true,
      options: { ...options, seed: options.seed === undefined ? undefined : options.seed + step },
    };
    const results = await sequence.controlledEvaluate(next.map((t, i) => (i === last ? ([t, { generateNext }] as const) : t)));
    const out = results[last]?.next;
    const token = out?.token;
    if (token == null || model.isEogToken(token) || !out?.logits || out.totalLogitWeight === undefined) return;
    let max = -Infinity;
    for (const l of out.logits.values()) max = Math.max(max, l);
    const norm = Math.log(out.totalLogitWeight);
    const probabilities = new Map<Token, number>();
    for (const [t, l] of out.logits) probabilities.set(t, Math.exp(l - max - norm));
    yield { token, probabilities };
    next = [token];
  }
}

/** Drops the sequence's cached tokens from `keep` on, through the gate. */
export async function eraseAfter(sequence: LlamaContextSequence, keep: number, gate: DecodeGate): Promise<void> {
  if (keep >= sequence.nextTokenIndex) return;
  await gate.exclusive(() => sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]));
}

/** How many prompt tokens of `sequence`'s cache match, for picking the warmest free sequence. */
export function cachedPrefix(sequence: LlamaContextSequence, tokens: readonly Token[]): number {
  return commonPrefixLength(sequence.contextTokens, tokens);
}
export async function runGeneration(options: {
  lib: NodeLlamaCppModule;
  model: LlamaModel;
  sequence: LlamaContextSequence;
  contextSize: number;
  tokens: Token[];
  templateStops: string[];
  /** The request field the prompt came from, for error messages. */
  promptParam: 'messages' | 'prompt';
  sampling: SamplingParams;
  plan: OutputPlan;
  /** Shared by the sequences of one context: erases go through it, generations pass it per token. */
  gate: DecodeGate;
  /** Ends the generation before a sampling step that would find no allowed token (see SamplingGuard). */
  guard: SamplingGuard;
  signal: AbortSignal;
  sink: GenerationSink;
}): Promise<GenerationResult> {
  const { lib, model, sequence, contextSize, tokens, sampling, plan, gate, guard, signal, sink } = options;
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
  await eraseAfter(sequence, keep, gate);
  sink.start({
    promptTokens: tokens.length,
    cachedTokens: keep,
    ...(sampling.maxTokens !== undefined && sampling.maxTokens > room ? { maxTokensClamped: room } : {}),
  });

  const generated: Token[] = [];
  let reasoningTokens = 0;
  // A strict structured output is checked whole at the end: the text it streamed is kept for that.
  let output = '';
  const shapedSink: GenerationSink = plan.validate
    ? {
        start: (info) => sink.start(info),
        delta: (d) => {
          output += d.text;
          sink.delta(d);
        },
      }
    : sink;
  const shaper = new OutputShaper(plan, [...sampling.stop, ...options.templateStops], shapedSink);
  const logprobs = plan.logprobs ? new TokenLogprobs(plan.logprobs.textOf) : undefined;
  let pending: Token[] = [];
  let finishReason: FinishReason = 'stop';
  let aborted = false;
  const usage = (): Usage => ({
    promptTokens: tokens.length,
    completionTokens: generated.length,
    cachedTokens: keep,
    ...(plan.reasoning ? { reasoningTokens } : {}),
  });

  if (limit <= 0) return { finishReason: 'length', usage: usage(), aborted };

  const greedy = sampling.temperature <= 0;
  const seed = greedy ? undefined : (sampling.seed ?? Math.floor(Math.random() * 2 ** 31));
  let grammar = plan.grammar;
  let input = tokens.slice(keep);
  let nativeTried = false;

  // One pass per grammar: a tool call the model starts in its template's syntax switches to a
  // grammar for the rest of the call, continuing from the last sampled (not yet evaluated) token.
  for (;;) {
    const grammarEvaluationState = grammar ? new lib.LlamaGrammarEvaluationState({ model, grammar }) : undefined;
    // The job's plan checked its grammar's start; a grammar switched to mid-way is checked here.
    if (!guard.allowsSomeToken(grammarEvaluationState, plan.bannedTokens)) break;
    const samplerOptions = {
      temperature: greedy ? 0 : sampling.temperature,
      // Explicit: node-llama-cpp's default top_p is 0.95, OpenAI's is 1.
      topP: sampling.topP,
      topK: sampling.topK,
      minP: sampling.minP,
      seed,
      repeatPenalty: penalties(sampling, generated),
      tokenBias: plan.tokenBias,
    };
    const top = plan.logprobs?.top ?? 0;
    // Alternatives without a grammar: the native side picks the top N (see topLogprobTokens);
    // node-llama-cpp's controlled evaluation takes no grammar, so with one the whole distribution
    // is copied per token instead. Without alternatives the sampled token's probability is enough.
    const iterator: AsyncGenerator<{ token: Token; probabilities?: Map<Token, number>; confidence?: number }, void, void> =
      top > 0 && !grammar && !plan.autoTools
        ? topLogprobTokens(model, sequence, input, samplerOptions, top)
        : sequence.evaluateWithMetadata(
            input,
            { probabilities: top > 0, confidence: logprobs !== undefined && top === 0 },
            // The limit above keeps prompt + output inside the window, so no context shift ever drops the prompt.
            { ...samplerOptions, grammarEvaluationState, yieldEogToken: false },
          );
    let switchTo: Token | undefined;
    try {
      for await (const out of iterator) {
        if (signal.aborted) {
          aborted = true;
          break;
        }
        const token = out.token;
        generated.push(token);
        pending.push(token);
        if (shaper.inReasoning) reasoningTokens++;
        if (logprobs) {
          const probabilities = out.probabilities ?? (out.confidence !== undefined ? new Map([[token, out.confidence]]) : undefined);
          shaper.logprob(logprobs.of(token, probabilities, plan.logprobs!.top));
        }
        // The preceding tokens let the detokenizer decide on a leading space the way it would in context.
        const before = generated.length - pending.length;
        const context = before > 0 ? generated.slice(Math.max(0, before - 4), before) : tokens.slice(-4);
        const piece = model.detokenize(pending, false, context);
        // A token can end inside a multi-byte character: wait for the rest before emitting.
        if (!piece.endsWith('\uFFFD')) {
          pending = [];
          shaper.push(piece);
          if (shaper.stopped) break;
        }
        if (generated.length >= limit) {
          finishReason = 'length';
          break;
        }
        if (shaper.detectedAfter !== undefined && !nativeTried) {
          switchTo = token;
          break;
        }
        // The sampler has accepted `token` into the grammar state: a dead end after it ends the
        // output here rather than in a native failure (see SamplingGuard).
        if ((grammarEvaluationState || plan.bannedTokens) && !guard.allowsSomeToken(grammarEvaluationState, plan.bannedTokens)) break;
        // Hold the next decode while another sequence erases (see DecodeGate).
        const closed = gate.pass();
        if (closed) await closed;
      }
    } finally {
      await iterator.return(undefined);
    }
    if (switchTo === undefined || signal.aborted) break;
    nativeTried = true;
    const rest = await plan.autoTools!.restGrammar(shaper.detectedAfter ?? '');
    if (rest) shaper.beginNativeCall(plan.autoTools!.syntax);
    else shaper.abandonNativeCall(plan.autoTools!.syntax.prefixes[0]);
    grammar = rest ?? plan.grammar;
    input = [switchTo];
  }
  if (signal.aborted) aborted = true;
  if (!aborted) shaper.flush();
  if (finishReason !== 'length' && shaper.toolCalls > 0) finishReason = 'tool_calls';
  // A cut answer (length) cannot validate and is not expected to; a finished one must.
  const violation = plan.validate && !aborted && finishReason === 'stop' ? plan.validate(output) : undefined;
  if (violation !== undefined) {
    throw new Rejection({
      status: 500,
      code: 'schema_mismatch',
      param: null,
      message: `The answer does not match the strict response_format schema (${violation}). This is a bug in Switchyard's schema grammar; please report it with the schema.`,
    });
  }
  return { finishReason, usage: usage(), aborted };
}
