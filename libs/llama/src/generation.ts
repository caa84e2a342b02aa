/**
 * One generation on one context sequence: prompt → tokens, reuse of the cached prefix, the sampling
 * loop, incremental UTF-8-safe detokenization, stop sequences, grammars, reasoning and tool-call
 * output, log probabilities, limits and cancellation. It emits backend-neutral deltas through
 * `sink`; it knows nothing about Redis or HTTP.
 */
import type { ChatJobData, FinishReason, LlmJobData, SamplingParams, ToolCallDelta, TokenLogprob, Usage } from '@switchyard/contracts';
import type { DecodeGate } from './decode-gate';
import { GenerationRejected } from './generation-errors';
import type {
  ChatHistoryItem,
  ChatModelFunctions,
  LlamaContextSequence,
  LlamaContextSequenceRepeatPenalty,
  LlamaGrammar,
  LlamaModel,
  NodeLlamaCppModule,
  Token,
  TokenBias,
} from './node-llama-cpp';
import type { SamplingGuard } from './sampling-guard';
import { ReasoningSplitter, type ReasoningMarkers } from './output/reasoning';
import { JsonToolCallStream, NativeToolCallStream, ToolCallDetector, type ToolCallSyntax } from './output/tool-calls';
import { TokenLogprobs } from './output/token-logprobs';
import { StopDetector } from './stop-detector';

export { GenerationRejected };

export interface StartInfo {
  promptTokens: number;
  cachedTokens: number;
  maxTokensClamped?: number;
}

export interface OutputDelta {
  text: string;
  reasoning?: string;
  toolCalls?: ToolCallDelta[];
  logprobs?: TokenLogprob[];
}

export interface GenerationSink {
  start(info: StartInfo): void;
  delta(delta: OutputDelta): void;
}

export interface GenerationResult {
  finishReason: FinishReason;
  usage: Usage;
  aborted: boolean;
}

/** How the output is shaped beyond plain text; decided per job by the model host. */
export interface OutputPlan {
  /** Constrains the whole output (raw grammar, response_format, forced tool calls). */
  grammar?: LlamaGrammar;
  /** The output is forced tool calls as JSON. */
  forcedTools?: boolean;
  /** The model may call tools in its template's syntax; the rest of a call is then constrained. */
  autoTools?: { syntax: ToolCallSyntax; restGrammar(after: string): Promise<LlamaGrammar | undefined> };
  reasoning?: { markers: ReasoningMarkers; startInside: boolean };
  logprobs?: { top: number; textOf(token: Token): string };
  tokenBias?: TokenBias;
  /** The tokens `tokenBias` never allows (logit_bias of -100), for the sampling guard. */
  bannedTokens?: ReadonlySet<Token>;
}

type ChatWrapper = NonNullable<ReturnType<NodeLlamaCppModule['resolveChatWrapper']>>;

/** llama.cpp's server default window for the repeat penalty. */
const REPEAT_LAST_N = 64;

export interface BuiltPrompt {
  tokens: Token[];
  templateStops: string[];
  /** The prompt ends inside an opened thinking block (e.g. a template that ends with `<think>\n`). */
  endsInThinking: boolean;
  /** The rendered chat prompt as text (chat jobs). */
  text?: string;
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class PromptBuilder {
  private readonly wrapper: ChatWrapper;
  /** The template's syntax for one call, when it has one. */
  readonly toolSyntax: ToolCallSyntax | undefined;
  /** Append the opening thinking marker to chat prompts (see opensThinkingItself). */
  private readonly openThinking: boolean;

  constructor(
    private readonly lib: NodeLlamaCppModule,
    private readonly model: LlamaModel,
    private readonly thinkingOpen?: string,
  ) {
    this.wrapper = lib.resolveChatWrapper(model, { warningLogs: false });
    this.toolSyntax = this.readToolSyntax();
    this.openThinking = this.opensThinkingItself();
  }

  /**
   * Whether the assistant's turn must open a thinking block that the wrapper leaves out: templates
   * such as DeepSeek-R1's write `<think>\n` in the generation prompt (`add_generation_prompt`), which
   * node-llama-cpp's wrappers render the turn without.
   */
  private opensThinkingItself(): boolean {
    const open = this.thinkingOpen;
    if (open === undefined) return false;
    const template = (this.model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template;
    if (typeof template !== 'string') return false;
    const block = /add_generation_prompt\s*-?%\}([\s\S]*?)\{%-?\s*endif/.exec(template)?.[1] ?? '';
    if (!block.includes(open) || block.includes(open.replace('<', '</'))) return false;
    const probe: ChatHistoryItem[] = [
      { type: 'user', text: 'x' },
      { type: 'model', response: [] },
    ];
    return !this.wrapper.generateContextState({ chatHistory: probe }).contextText.toString().trimEnd().endsWith(open);
  }

  get wrapperName(): string {
    return this.wrapper.wrapperName;
  }

  private text(value: unknown): string {
    if (value == null) return '';
    return this.lib.LlamaText(value as Parameters<NodeLlamaCppModule['LlamaText']>[0]).toString();
  }

  private readToolSyntax(): ToolCallSyntax | undefined {
    const call = this.wrapper.settings?.functions?.call;
    if (!call) return undefined;
    const prefix = this.text(call.prefix);
    if (prefix.trim().length === 0) return undefined;
    const alternates = ((call as { prefixAlternateMatches?: unknown[] }).prefixAlternateMatches ?? []).map((p) => this.text(p));
    return {
      prefixes: [...new Set([prefix, prefix.trim(), ...alternates].filter((p) => p.length > 0))],
      paramsPrefix: this.text(call.paramsPrefix),
      suffix: this.text(call.suffix),
    };
  }

  private history(job: ChatJobData): ChatHistoryItem[] {
    const results = new Map<string, string>();
    for (const m of job.messages) if (m.role === 'tool' && m.toolCallId) results.set(m.toolCallId, m.content);
    const history: ChatHistoryItem[] = [];
    for (const m of job.messages) {
      if (m.role === 'assistant') {
        const response: Extract<ChatHistoryItem, { type: 'model' }>['response'] = [];
        if (m.content.length > 0) response.push(m.content);
        for (const [i, call] of (m.toolCalls ?? []).entries()) {
          response.push({
            type: 'functionCall',
            name: call.name,
            params: parseArguments(call.arguments),
            result: parseArguments(results.get(call.id) ?? ''),
            startsNewChunk: i === 0,
          });
        }
        history.push({ type: 'model', response });
      } else if (m.role === 'user') history.push({ type: 'user', text: m.content });
      else if (m.role === 'tool') continue; // rendered with the call it answers
      else history.push({ type: 'system', text: m.content });
    }
    // The template adds the assistant's opening only when the history ends with a model turn.
    history.push({ type: 'model', response: [] });
    return history;
  }

  private functions(job: ChatJobData): ChatModelFunctions | undefined {
    if (!job.tools?.length || job.toolChoice === 'none') return undefined;
    const functions: Record<string, ChatModelFunctions[string]> = {};
    for (const t of job.tools) functions[t.name] = { description: t.description, params: (t.parameters ?? undefined) as never };
    return functions;
  }

  /** Tokens of the prompt plus extra stop texts the chat template declares. */
  build(job: LlmJobData): BuiltPrompt {
    if (job.kind === 'completion') {
      if (Array.isArray(job.prompt)) return { tokens: job.prompt as Token[], templateStops: [], endsInThinking: false };
      const tokens = this.model.tokenize(job.prompt, false);
      const bos = this.model.tokens.bos;
      if (bos !== null && this.model.tokens.shouldPrependBosToken) tokens.unshift(bos);
      return { tokens, templateStops: [], endsInThinking: false };
    }
    const availableFunctions = this.functions(job);
    let state: ReturnType<ChatWrapper['generateContextState']>;
    try {
      state = this.wrapper.generateContextState({ chatHistory: this.history(job), availableFunctions, documentFunctionParams: true });
    } catch (err) {
      // The template documents each function's schema; one it cannot read is the client's error.
      if (availableFunctions === undefined) throw err;
      throw new GenerationRejected(`The chat template could not render the tools' parameter schemas: ${(err as Error).message}`, 'invalid_tool_schema', 'tools');
    }
    const tokens = state.contextText.tokenize(this.model.tokenizer);
    let text = state.contextText.toString();
    if (this.openThinking && this.thinkingOpen !== undefined) {
      tokens.push(...this.model.tokenize(`${this.thinkingOpen}\n`, true));
      text += `${this.thinkingOpen}\n`;
    }
    const templateStops: string[] = [];
    for (const trigger of state.stopGenerationTriggers) {
      // Triggers made only of special tokens end generation as end-of-generation tokens; text ones
      // (e.g. "\n### Human:") become stop strings.
      const text = trigger.values.every((v) => typeof v === 'string') ? trigger.values.join('') : '';
      if (text.length > 0) templateStops.push(text);
    }
    const endsInThinking = this.thinkingOpen !== undefined && text.trimEnd().endsWith(this.thinkingOpen);
    return { tokens, templateStops, endsInThinking, text };
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

/**
 * Turns generated text into deltas: stop strings, then reasoning vs answer, then tool calls (forced
 * JSON, or a call in the template's syntax that the model starts on its own).
 */
class OutputShaper {
  private readonly stop: StopDetector | undefined;
  private readonly reasoning: ReasoningSplitter | undefined;
  private readonly forced: JsonToolCallStream | undefined;
  private readonly detector: ToolCallDetector | undefined;
  private native: NativeToolCallStream | undefined;
  private pendingLogprobs: TokenLogprob[] = [];
  /** Set when a call in the template's syntax has begun: the text that followed its prefix. */
  detectedAfter: string | undefined;
  toolCalls = 0;
  stopped = false;

  constructor(
    private readonly plan: OutputPlan,
    stops: string[],
    private readonly sink: GenerationSink,
  ) {
    if (plan.forcedTools) this.forced = new JsonToolCallStream();
    else {
      if (stops.length > 0) this.stop = new StopDetector(stops);
      if (plan.reasoning) this.reasoning = new ReasoningSplitter(plan.reasoning.markers, plan.reasoning.startInside);
      if (plan.autoTools) this.detector = new ToolCallDetector(plan.autoTools.syntax.prefixes);
    }
  }

  get inReasoning(): boolean {
    return this.reasoning?.inReasoning ?? false;
  }

  logprob(entry: TokenLogprob): void {
    this.pendingLogprobs.push(entry);
  }

  /** Switches to streaming one call in the template's syntax (after its prefix was seen). */
  beginNativeCall(syntax: ToolCallSyntax): void {
    this.native = new NativeToolCallStream(syntax, this.toolCalls);
    this.toolCalls++;
    const after = this.detectedAfter ?? '';
    this.detectedAfter = undefined;
    if (after.length > 0) this.emitCalls(this.native.push(after));
  }

  /** The template-syntax call could not continue: its text is plain answer text after all. */
  abandonNativeCall(prefixText: string): void {
    const after = this.detectedAfter ?? '';
    this.detectedAfter = undefined;
    this.emit({ text: prefixText + after });
  }

  push(piece: string): void {
    if (this.forced) {
      const calls = this.forced.push(piece);
      this.toolCalls = this.forced.count;
      this.emitCalls(calls);
      return;
    }
    if (this.native) {
      this.emitCalls(this.native.push(piece));
      return;
    }
    let text = piece;
    if (this.stop) {
      const r = this.stop.push(text);
      text = r.emit;
      if (r.stopped) this.stopped = true;
    }
    this.route(text);
  }

  private route(text: string): void {
    let content = text;
    let reasoning = '';
    if (this.reasoning) {
      const split = this.reasoning.push(text);
      content = split.content;
      reasoning = split.reasoning;
    }
    if (this.detector && content.length > 0) {
      const r = this.detector.push(content);
      content = r.content;
      if (this.detector.detected && this.detectedAfter === undefined) this.detectedAfter = r.after;
    }
    this.emit({ text: content, ...(reasoning ? { reasoning } : {}) });
  }

  private emitCalls(calls: ToolCallDelta[]): void {
    this.emit({ text: '', ...(calls.length > 0 ? { toolCalls: calls } : {}) });
  }

  private emit(delta: OutputDelta): void {
    if (delta.text.length === 0 && !delta.reasoning && !delta.toolCalls?.length) return;
    if (this.pendingLogprobs.length > 0) {
      delta.logprobs = this.pendingLogprobs;
      this.pendingLogprobs = [];
    }
    this.sink.delta(delta);
  }

  /** End of output: release what was held back as possible stop or marker text. */
  flush(): void {
    if (!this.forced && !this.native && !this.stopped) {
      const rest = this.stop?.flush() ?? '';
      let content = rest;
      let reasoning = '';
      if (this.reasoning) {
        const a = this.reasoning.push(rest);
        const b = this.reasoning.flush();
        content = a.content + b.content;
        reasoning = a.reasoning + b.reasoning;
      }
      if (this.detector) content = this.detector.push(content).content + this.detector.flush();
      this.emit({ text: content, ...(reasoning ? { reasoning } : {}) });
    }
    if (this.pendingLogprobs.length > 0) this.sink.delta({ text: '', logprobs: this.pendingLogprobs });
    this.pendingLogprobs = [];
  }
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
  const shaper = new OutputShaper(plan, [...sampling.stop, ...options.templateStops], sink);
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
  return { finishReason, usage: usage(), aborted };
}
