/**
 * One GGUF model in memory, with no queue or Redis attached: the llama.cpp context and its parallel
 * sequences, the prompt builder, grammars, reasoning markers, and the per-job output plan (tools,
 * response formats, reasoning split, log probabilities, logit bias). `generate` runs one job on the
 * best free sequence and reports events through a sink. The llm worker's ModelHost drives it from a
 * BullMQ queue; the remote runner drives it from its gRPC stream.
 */
import type { EmbeddingsJobData, EmbeddingsResult, LlamaCppModelDescriptor, LlmJobData, LoadStep, StartEvent, TokenAnswer, TokenJobData } from '@switchyard/contracts';
import { runEmbeddings } from './embeddings';
import { cachedPrefix, runGeneration } from './generation';
import { GenerationRejected } from './generation-errors';
import { DecodeGate } from './decode-gate';
import { GrammarFactory } from './grammars';
import { schemaViolation } from './schema-grammar/validate';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaModel, NodeLlamaCppModule, Token } from './node-llama-cpp';
import type { GenerationResult, OutputDelta, OutputPlan } from './output-plan';
import type { ReasoningMarkers } from './output/reasoning';
import { PromptBuilder, type BuiltPrompt } from './prompt-builder';
import { SamplingGuard } from './sampling-guard';
import { answerTokenRequest } from './token-tools';

/** What a job reports while it runs (the start event's fields, then output pieces). */
export interface EngineSink {
  start(info: Omit<StartEvent, 'type' | 'seq' | 'workerId'>): void;
  delta(delta: OutputDelta): void;
}

export class LlamaEngine {
  private model: LlamaModel | undefined;
  private context: LlamaContext | undefined;
  /** For `embedding: true` models: node-llama-cpp's embedding context instead of generation sequences. */
  private embedder: LlamaEmbeddingContext | undefined;
  private prompts: PromptBuilder | undefined;
  private grammars: GrammarFactory | undefined;
  private reasoning: ReasoningMarkers | undefined;
  private vocabularySize = 0;
  private guard: SamplingGuard | undefined;
  private readonly gate = new DecodeGate();
  private readonly free: LlamaContextSequence[] = [];

  constructor(
    readonly descriptor: LlamaCppModelDescriptor,
    private readonly lib: NodeLlamaCppModule,
    private readonly llama: Llama,
  ) {}

  /**
   * Loads the model and its context; frees what it opened when it fails. `report` hears llama.cpp's
   * own load progress (the weights, to 90%), then the context's creation.
   */
  async load(report?: (step: LoadStep) => void): Promise<void> {
    const d = this.descriptor;
    try {
      this.model = await this.llama.loadModel({
        modelPath: d.path,
        gpuLayers: d.gpuLayers,
        ...(report ? { onLoadProgress: (p: number) => report({ progress: 0.9 * p, stage: 'weights' }) } : {}),
      });
      report?.({ progress: 0.9, stage: 'context' });
      if (d.embedding) {
        this.embedder = await this.model.createEmbeddingContext({ contextSize: d.contextSize, threads: d.threads });
      } else {
        this.context = await this.model.createContext({
          contextSize: d.contextSize,
          sequences: d.parallel,
          threads: d.threads,
          batchSize: Math.min(512, d.contextSize),
        });
        for (let i = 0; i < d.parallel; i++) this.free.push(this.context.getSequence());
      }
      this.reasoning = reasoningMarkers(d, this.model);
      this.prompts = new PromptBuilder(this.lib, this.model, this.reasoning?.open);
      this.grammars = new GrammarFactory(this.llama);
      for (const _ of this.model.iterateAllTokens()) this.vocabularySize++;
      this.guard = new SamplingGuard(this.model, this.vocabularySize);
    } catch (err) {
      await this.dispose();
      throw err;
    }
  }

  /** For the "model ready" log line. */
  describe(): Record<string, string> {
    return {
      chatWrapper: this.prompts!.wrapperName,
      toolCalls: this.prompts!.toolSyntax ? 'template syntax' : 'forced only',
      reasoning: this.reasoning ? `${this.reasoning.open}…${this.reasoning.close}` : 'off',
    };
  }

  /**
   * Runs one generation job. `beforeStart` runs once the prompt is built and planned, before a
   * sequence is taken (the worker checks its cancel flag there); an aborted signal then skips the
   * run. Throws GenerationRejected for requests the model cannot take (the client's 400).
   */
  async generate(job: LlmJobData, signal: AbortSignal, sink: EngineSink, beforeStart?: () => Promise<void>): Promise<GenerationResult> {
    if (job.kind === 'completion' && Array.isArray(job.prompt)) this.checkPromptTokens(job.prompt);
    const prompt = this.prompts!.build(job);
    const { tokens, templateStops } = prompt;
    const plan = await this.plan(job, prompt);
    await beforeStart?.();
    if (signal.aborted) return { finishReason: 'stop', usage: { promptTokens: 0, completionTokens: 0 }, aborted: true };
    const sequence = this.takeSequence(tokens);
    try {
      const echo = job.kind === 'completion' && job.echo ? this.promptText(job.prompt) : undefined;
      return await runGeneration({
        lib: this.lib,
        model: this.model!,
        sequence,
        contextSize: this.descriptor.contextSize,
        tokens,
        templateStops,
        promptParam: job.kind === 'chat' ? 'messages' : 'prompt',
        sampling: job.sampling,
        plan,
        gate: this.gate,
        guard: this.guard!,
        signal,
        sink: {
          start: (info) =>
            sink.start({
              promptTokens: info.promptTokens,
              ...(info.maxTokensClamped !== undefined ? { maxTokensClamped: info.maxTokensClamped } : {}),
              ...(echo !== undefined ? { echo } : {}),
            }),
          delta: (delta) => sink.delta(delta),
        },
      });
    } finally {
      this.free.push(sequence);
    }
  }

  /** Tokenize, detokenize, templates and logits (token tools). */
  async answerTokens(request: TokenJobData['request']): Promise<TokenAnswer> {
    if (request.op === 'logits' && !this.context) {
      throw new GenerationRejected(`The model '${this.descriptor.name}' is an embedding model and has no next-token distribution.`, 'model_not_supported', 'model');
    }
    return answerTokenRequest(
      {
        model: this.model!,
        prompts: this.prompts!,
        vocabularySize: this.vocabularySize,
        contextSize: this.descriptor.contextSize,
        gate: this.gate,
        withSequence: async (tokens, use) => {
          const sequence = this.takeSequence(tokens);
          try {
            return await use(sequence);
          } finally {
            this.free.push(sequence);
          }
        },
      },
      request,
    );
  }

  /** An embeddings job, for models loaded with `embedding: true`. */
  async embed(job: EmbeddingsJobData): Promise<EmbeddingsResult> {
    if (!this.embedder) {
      throw new GenerationRejected(`The model '${this.descriptor.name}' is not an embedding model.`, 'model_not_supported', 'model');
    }
    return runEmbeddings(this.embedder, this.model!, this.descriptor.contextSize, this.vocabularySize, job);
  }

  /**
   * A token id outside the vocabulary fails llama.cpp's decode of the whole batch, so every sequence
   * decoding with it would fail too: it is the client's 400 before anything is evaluated.
   */
  private checkPromptTokens(prompt: readonly number[]): void {
    const bad = prompt.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= this.vocabularySize);
    if (bad < 0) return;
    throw new GenerationRejected(
      `Invalid 'prompt': token id ${prompt[bad]} (at index ${bad}) is outside this model's vocabulary (0-${this.vocabularySize - 1}).`,
      'invalid_token_id',
      'prompt',
    );
  }

  private promptText(prompt: string | number[]): string {
    return typeof prompt === 'string' ? prompt : this.model!.detokenize(prompt as Token[], true);
  }

  /** Grammar, tool-call mode, reasoning split, log probabilities and logit bias for one job. */
  private async plan(data: LlmJobData, prompt: BuiltPrompt): Promise<OutputPlan> {
    const grammars = this.grammars!;
    const plan: OutputPlan = {};
    const tools = data.kind === 'chat' && data.toolChoice !== 'none' ? (data.tools ?? []) : [];
    if (data.kind === 'chat' && tools.length > 0) {
      const choice = data.toolChoice ?? 'auto';
      if (choice === 'required' || typeof choice === 'object') {
        plan.grammar = await grammars.forcedToolCalls(tools, typeof choice === 'object' ? choice.name : undefined, data.parallelToolCalls ?? true);
        plan.forcedTools = true;
      } else if (this.prompts!.toolSyntax) {
        const syntax = this.prompts!.toolSyntax;
        plan.autoTools = { syntax, restGrammar: (after) => grammars.nativeCallRest(syntax, tools, after) };
      }
    }
    if (!plan.forcedTools) {
      if (data.grammar !== undefined) plan.grammar = await grammars.gbnf(data.grammar);
      else if (data.responseFormat) {
        plan.grammar = await grammars.responseFormat(data.responseFormat);
        const format = data.responseFormat;
        if (format.type === 'json_schema' && format.strict) plan.validate = (output) => schemaViolation(format.schema, output);
      }
      if (data.kind === 'chat' && this.reasoning) plan.reasoning = { markers: this.reasoning, startInside: prompt.endsInThinking };
    }
    if (data.logprobs) {
      const model = this.model!;
      // With itself as the preceding token, the detokenizer keeps a token's leading space.
      plan.logprobs = { top: data.logprobs.top, textOf: (t) => model.detokenize([t], true, [t]) };
    }
    const bias = data.sampling.logitBias;
    const banned = new Set<Token>();
    if (bias && Object.keys(bias).length > 0) {
      const tokenBias = new this.lib.TokenBias(this.model!.tokenizer);
      for (const [key, value] of Object.entries(bias)) {
        const id = Number(key);
        if (!Number.isInteger(id) || id < 0 || id >= this.vocabularySize) {
          throw new GenerationRejected(
            `Invalid 'logit_bias': token id ${key} is outside this model's vocabulary (0-${this.vocabularySize - 1}).`,
            'invalid_logit_bias',
            'logit_bias',
          );
        }
        tokenBias.set(id as Token, value <= -100 ? 'never' : { logit: value });
        if (value <= -100) banned.add(id as Token);
      }
      plan.tokenBias = tokenBias;
      if (banned.size > 0) plan.bannedTokens = banned;
    }
    this.checkSamplable(data, plan);
    return plan;
  }

  /**
   * Rejects a job whose first sampling step would find no allowed token (a grammar that needs a
   * character no token can produce, such as NUL, or a logit_bias that bans every token the grammar
   * allows, or every token): llama.cpp would fail natively on it (see SamplingGuard).
   */
  private checkSamplable(data: LlmJobData, plan: OutputPlan): void {
    const guard = this.guard!;
    const banned = plan.bannedTokens;
    const state = plan.grammar ? new this.lib.LlamaGrammarEvaluationState({ model: this.model!, grammar: plan.grammar }) : undefined;
    if (guard.allowsSomeToken(state, banned)) return;
    if (state && guard.allowsSomeToken(state)) {
      throw new GenerationRejected("Invalid 'logit_bias': it bans every token the requested output format allows.", 'invalid_logit_bias', 'logit_bias');
    }
    if (!state) throw new GenerationRejected("Invalid 'logit_bias': it bans every token of this model's vocabulary.", 'invalid_logit_bias', 'logit_bias');
    const param = plan.forcedTools ? 'tools' : data.grammar !== undefined ? 'grammar' : 'response_format';
    throw new GenerationRejected(
      `Invalid '${param}': the grammar cannot start with any token this model can generate (a character no token produces, such as NUL, or a rule that matches nothing).`,
      'invalid_grammar',
      param,
    );
  }

  /** The free sequence whose cache shares the longest prefix with the prompt. */
  private takeSequence(tokens: readonly Token[]): LlamaContextSequence {
    if (this.free.length === 0) throw new Error('no free sequence (concurrency exceeds parallel slots)');
    let best = 0;
    let bestLen = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = cachedPrefix(this.free[i], tokens);
      if (len > bestLen) {
        best = i;
        bestLen = len;
      }
    }
    return this.free.splice(best, 1)[0];
  }

  async dispose(): Promise<void> {
    await this.context?.dispose();
    await this.embedder?.dispose();
    this.embedder = undefined;
    await this.model?.dispose();
    this.context = undefined;
    this.model = undefined;
    this.free.length = 0;
  }
}

/** Thinking markers: from the models file, or `<think>` when the chat template uses it ('auto'). */
function reasoningMarkers(d: LlamaCppModelDescriptor, model: LlamaModel): ReasoningMarkers | undefined {
  if (d.reasoning === false) return undefined;
  if (d.reasoning === 'auto') {
    const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template;
    if (typeof template !== 'string' || !template.includes(d.reasoningMarkers[0])) return undefined;
  }
  return { open: d.reasoningMarkers[0], close: d.reasoningMarkers[1] };
}
