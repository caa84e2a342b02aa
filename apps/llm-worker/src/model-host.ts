/**
 * Serves one GGUF model: loads it, keeps one llama.cpp context with `parallel` sequences, and consumes
 * the model's BullMQ queue with concurrency = parallel so node-llama-cpp batches concurrent requests.
 * Unloading drains running jobs for a bounded time, then aborts what is left.
 */
import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import {
  LLM_LOCK_DURATION_MS,
  LLM_STALLED_INTERVAL_MS,
  REDIS_PREFIX,
  jobCancelKey,
  llmQueueName,
  type ErrorEvent,
  type LlamaCppModelDescriptor,
  type LlmJobData,
  type LlmQueueJob,
  type TokenJobData,
  type WorkerModelState,
} from '@switchyard/contracts';
import { createRedis, Logger } from '@switchyard/runtime';
import { CancelListener } from './cancel-listener';
import { GenerationRejected, PromptBuilder, cachedPrefix, runGeneration, type BuiltPrompt, type OutputPlan } from './generation';
import { DecodeGate } from './decode-gate';
import { GrammarFactory } from './grammars';
import { answerTokenRequest } from './token-tools';
import type { ReasoningMarkers } from './output/reasoning';
import { JobEventsPublisher } from './job-events.publisher';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, NodeLlamaCppModule, Token } from './node-llama-cpp';

export interface ModelHostDeps {
  lib: NodeLlamaCppModule;
  llama: Llama;
  redisUrl: string;
  /** Shared connection for publishing events. */
  publisher: Redis;
  cancels: CancelListener;
  workerId: string;
  logger: Logger;
}

/** Why a running job was stopped from this side (not by its client). */
type StopReason = 'unloaded';

export class ModelHost {
  private model: LlamaModel | undefined;
  private context: LlamaContext | undefined;
  private prompts: PromptBuilder | undefined;
  private grammars: GrammarFactory | undefined;
  private reasoning: ReasoningMarkers | undefined;
  private vocabularySize = 0;
  private readonly gate = new DecodeGate();
  private readonly free: LlamaContextSequence[] = [];
  private worker: Worker<LlmQueueJob> | undefined;
  private queueConnection: Redis | undefined;
  private state: WorkerModelState['state'] = 'loading';
  private error: string | undefined;
  private readonly running = new Map<string, AbortController>();
  private readonly stopped = new Map<string, StopReason>();
  private lastUsed = Date.now();
  private keepAliveMs: number;
  private readonly log: Logger;

  constructor(
    readonly descriptor: LlamaCppModelDescriptor,
    private readonly deps: ModelHostDeps,
  ) {
    this.log = deps.logger.child(descriptor.name);
    this.keepAliveMs = descriptor.keepAliveMs;
  }

  get name(): string {
    return this.descriptor.name;
  }

  get busy(): number {
    return this.running.size;
  }

  get currentState(): WorkerModelState['state'] {
    return this.state;
  }

  status(): WorkerModelState {
    return {
      name: this.descriptor.name,
      state: this.state,
      slots: this.descriptor.parallel,
      busy: this.running.size,
      contextSize: this.descriptor.contextSize,
      threads: this.descriptor.threads,
      lastUsed: this.lastUsed,
      keepAliveMs: this.keepAliveMs,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** True when idle for longer than its keep-alive (never for -1). */
  idleExpired(now = Date.now()): boolean {
    return this.state === 'ready' && this.running.size === 0 && this.keepAliveMs >= 0 && now - this.lastUsed >= this.keepAliveMs;
  }

  /** Loads the model and starts consuming its queue; throws (after cleaning up) when it cannot. */
  async load(): Promise<void> {
    const d = this.descriptor;
    const started = Date.now();
    try {
      this.model = await this.deps.llama.loadModel({ modelPath: d.path, gpuLayers: d.gpuLayers });
      this.context = await this.model.createContext({
        contextSize: d.contextSize,
        sequences: d.parallel,
        threads: d.threads,
        batchSize: Math.min(512, d.contextSize),
      });
      for (let i = 0; i < d.parallel; i++) this.free.push(this.context.getSequence());
      this.reasoning = reasoningMarkers(d, this.model);
      this.prompts = new PromptBuilder(this.deps.lib, this.model, this.reasoning?.open);
      this.grammars = new GrammarFactory(this.deps.llama);
      for (const _ of this.model.iterateAllTokens()) this.vocabularySize++;
    } catch (err) {
      this.state = 'failed';
      this.error = (err as Error).message;
      this.log.error('model failed to load', { path: d.path, error: this.error });
      await this.disposeModel();
      throw err;
    }
    this.queueConnection = createRedis(this.deps.redisUrl, `switchyard-llm-${this.deps.workerId}`);
    this.worker = new Worker<LlmQueueJob>(llmQueueName(d.name), (job) => this.process(job), {
      connection: this.queueConnection,
      prefix: REDIS_PREFIX,
      concurrency: d.parallel,
      lockDuration: LLM_LOCK_DURATION_MS,
      stalledInterval: LLM_STALLED_INTERVAL_MS,
      // A job whose worker died goes back to the queue once; see `resume` for what happens then.
      maxStalledCount: 1,
    });
    this.worker.on('error', (err) => this.log.error('queue worker error', { error: err.message }));
    this.state = 'ready';
    this.lastUsed = Date.now();
    this.log.info('model ready', {
      path: d.path,
      ms: Date.now() - started,
      contextSize: d.contextSize,
      parallel: d.parallel,
      threads: d.threads,
      chatWrapper: this.prompts!.wrapperName,
      toolCalls: this.prompts!.toolSyntax ? 'template syntax' : 'forced only',
      reasoning: this.reasoning ? `${this.reasoning.open}…${this.reasoning.close}` : 'off',
    });
  }

  private async process(job: Job<LlmQueueJob>): Promise<void> {
    if (job.data.kind === 'tokens') return this.processTokens(job as Job<TokenJobData>);
    return this.processGeneration(job as Job<LlmJobData>);
  }

  private async processTokens(job: Job<TokenJobData>): Promise<void> {
    const jobId = job.id!;
    this.running.set(jobId, new AbortController());
    let events: JobEventsPublisher | undefined;
    try {
      events = await JobEventsPublisher.forJob(this.deps.publisher, jobId, job.attemptsStarted > 1);
      const data = await answerTokenRequest(
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
        job.data.request,
      );
      await events.emit({ type: 'result', data });
    } catch (err) {
      await events?.emit(failure(err, this.log, jobId)).catch(() => undefined);
    } finally {
      this.running.delete(jobId);
      this.lastUsed = Date.now();
    }
  }

  private async processGeneration(job: Job<LlmJobData>): Promise<void> {
    const jobId = job.id!;
    const abort = new AbortController();
    this.running.set(jobId, abort);
    this.deps.cancels.register(jobId, abort);
    if (job.data.keepAliveMs !== undefined) this.keepAliveMs = job.data.keepAliveMs;
    let events: JobEventsPublisher | undefined;
    let sequence: LlamaContextSequence | undefined;
    try {
      // The flag covers a cancel published before this worker took the job; its round trip
      // overlaps with building the prompt.
      const flagged = this.deps.publisher.exists(jobCancelKey(jobId));
      events = await JobEventsPublisher.forJob(this.deps.publisher, jobId, job.attemptsStarted > 1);
      if (events.alreadyStreamed) {
        // A worker died after streaming part of this answer; replaying it would repeat text.
        await events.emit(workerLost());
        return;
      }
      const prompt = this.prompts!.build(job.data);
      const { tokens, templateStops } = prompt;
      const plan = await this.plan(job.data, prompt);
      if ((await flagged) === 1) abort.abort();
      if (abort.signal.aborted) return;
      sequence = this.takeSequence(tokens);
      const publisher = events;
      const echo = job.data.kind === 'completion' && job.data.echo ? this.promptText(job.data.prompt) : undefined;
      const result = await runGeneration({
        lib: this.deps.lib,
        model: this.model!,
        sequence,
        contextSize: this.descriptor.contextSize,
        tokens,
        templateStops,
        promptParam: job.data.kind === 'chat' ? 'messages' : 'prompt',
        sampling: job.data.sampling,
        plan,
        gate: this.gate,
        signal: abort.signal,
        sink: {
          start: (info) =>
            void publisher.emit({
              type: 'start',
              workerId: this.deps.workerId,
              promptTokens: info.promptTokens,
              ...(info.maxTokensClamped !== undefined ? { maxTokensClamped: info.maxTokensClamped } : {}),
              ...(echo !== undefined ? { echo } : {}),
            }),
          delta: (delta) => void publisher.emit({ type: 'delta', ...delta }),
        },
      });
      if (result.aborted) {
        if (this.stopped.get(jobId) === 'unloaded') await events.emit(modelUnloaded(this.name));
        return;
      }
      await events.emit({ type: 'done', finishReason: result.finishReason, usage: result.usage });
    } catch (err) {
      await events?.emit(failure(err, this.log, jobId)).catch(() => undefined);
    } finally {
      if (sequence) this.free.push(sequence);
      this.running.delete(jobId);
      this.stopped.delete(jobId);
      this.deps.cancels.unregister(jobId);
      this.lastUsed = Date.now();
    }
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
      else if (data.responseFormat) plan.grammar = await grammars.responseFormat(data.responseFormat);
      if (data.kind === 'chat' && this.reasoning) plan.reasoning = { markers: this.reasoning, startInside: prompt.endsInThinking };
    }
    if (data.logprobs) {
      const model = this.model!;
      // With itself as the preceding token, the detokenizer keeps a token's leading space.
      plan.logprobs = { top: data.logprobs.top, textOf: (t) => model.detokenize([t], true, [t]) };
    }
    const bias = data.sampling.logitBias;
    if (bias && Object.keys(bias).length > 0) {
      const tokenBias = new this.deps.lib.TokenBias(this.model!.tokenizer);
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
      }
      plan.tokenBias = tokenBias;
    }
    return plan;
  }

  /** The free sequence whose cache shares the longest prefix with the prompt. */
  private takeSequence(tokens: Parameters<typeof cachedPrefix>[1]): LlamaContextSequence {
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

  /**
   * Stops taking jobs (waiting ones stay queued for other workers), lets running ones finish for up
   * to `drainMs`, aborts the rest with a clear error, then frees the model.
   */
  async unload(drainMs: number): Promise<{ aborted: number }> {
    this.state = 'unloading';
    const closing = this.worker?.close() ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      closing.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), drainMs))),
    ]);
    clearTimeout(timer);
    let aborted = 0;
    if (!drained) {
      for (const [jobId, controller] of this.running) {
        this.stopped.set(jobId, 'unloaded');
        controller.abort();
        aborted++;
      }
      await closing;
    }
    await this.queueConnection?.quit().catch(() => undefined);
    await this.disposeModel();
    this.log.info('model unloaded', { aborted });
    return { aborted };
  }

  private async disposeModel(): Promise<void> {
    await this.context?.dispose();
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

/** A rejected request is the client's 400; anything else is logged and reported as a 500. */
function failure(err: unknown, log: Logger, jobId: string): Omit<ErrorEvent, 'seq'> {
  if (err instanceof GenerationRejected) {
    return { type: 'error', status: 400, errorType: 'invalid_request_error', message: err.message, code: err.code, param: err.param };
  }
  log.error('job failed', { jobId, error: (err as Error).stack ?? String(err) });
  return {
    type: 'error',
    status: 500,
    errorType: 'server_error',
    message: 'The model failed while answering this request.',
    code: 'generation_failed',
    param: null,
  };
}

function workerLost(): Omit<ErrorEvent, 'seq'> {
  return {
    type: 'error',
    status: 502,
    errorType: 'server_error',
    message: 'The worker serving this request stopped responding.',
    code: 'worker_lost',
    param: null,
  };
}

function modelUnloaded(model: string): Omit<ErrorEvent, 'seq'> {
  return {
    type: 'error',
    status: 503,
    errorType: 'server_error',
    message: `The model '${model}' was unloaded while this request was running. Retry the request.`,
    code: 'model_unloaded',
    param: null,
  };
}
