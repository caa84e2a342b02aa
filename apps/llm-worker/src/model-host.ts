/**
 * Serves one GGUF model: loads it, keeps one llama.cpp context with `parallel` sequences, and consumes
 * the model's BullMQ queue with concurrency = parallel so node-llama-cpp batches concurrent requests.
 */
import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import {
  LLM_LOCK_DURATION_MS,
  REDIS_PREFIX,
  jobCancelKey,
  llmQueueName,
  type LlamaCppModelDescriptor,
  type LlmJobData,
  type WorkerModelState,
} from '@switchyard/contracts';
import { createRedis, Logger } from '@switchyard/runtime';
import { CancelListener } from './cancel-listener';
import { GenerationRejected, PromptBuilder, cachedPrefix, runGeneration } from './generation';
import { JobEventsPublisher } from './job-events.publisher';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, NodeLlamaCppModule } from './node-llama-cpp';

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

export class ModelHost {
  private model: LlamaModel | undefined;
  private context: LlamaContext | undefined;
  private prompts: PromptBuilder | undefined;
  private readonly free: LlamaContextSequence[] = [];
  private worker: Worker<LlmJobData> | undefined;
  private queueConnection: Redis | undefined;
  private state: WorkerModelState['state'] = 'loading';
  private error: string | undefined;
  private busy = 0;
  private readonly log: Logger;

  constructor(
    readonly descriptor: LlamaCppModelDescriptor,
    private readonly deps: ModelHostDeps,
  ) {
    this.log = deps.logger.child(descriptor.name);
  }

  status(): WorkerModelState {
    return {
      name: this.descriptor.name,
      state: this.state,
      slots: this.descriptor.parallel,
      busy: this.busy,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  async load(): Promise<void> {
    const d = this.descriptor;
    const started = Date.now();
    try {
      this.model = await this.deps.llama.loadModel({ modelPath: d.path, gpuLayers: d.gpuLayers });
      this.context = await this.model.createContext({
        contextSize: d.contextSize,
        sequences: d.parallel,
        threads: d.threads,
        // Each sequence gets the whole window; the KV cache is sized for all of them.
        batchSize: Math.min(512, d.contextSize),
      });
      for (let i = 0; i < d.parallel; i++) this.free.push(this.context.getSequence());
      this.prompts = new PromptBuilder(this.deps.lib, this.model);
    } catch (err) {
      this.state = 'failed';
      this.error = (err as Error).message;
      this.log.error('model failed to load', { path: d.path, error: this.error });
      await this.disposeModel();
      return;
    }
    this.queueConnection = createRedis(this.deps.redisUrl, `switchyard-llm-${this.deps.workerId}`);
    this.worker = new Worker<LlmJobData>(llmQueueName(d.name), (job) => this.process(job), {
      connection: this.queueConnection,
      prefix: REDIS_PREFIX,
      concurrency: d.parallel,
      lockDuration: LLM_LOCK_DURATION_MS,
      // A crashed worker's job goes back to the queue once: it had not streamed (see contracts).
      maxStalledCount: 1,
    });
    this.worker.on('error', (err) => this.log.error('queue worker error', { error: err.message }));
    this.state = 'ready';
    this.log.info('model ready', {
      path: d.path,
      ms: Date.now() - started,
      contextSize: d.contextSize,
      parallel: d.parallel,
      threads: d.threads,
      chatWrapper: this.prompts.wrapperName,
    });
  }

  private async process(job: Job<LlmJobData>): Promise<void> {
    const jobId = job.id!;
    const events = new JobEventsPublisher(this.deps.publisher, jobId);
    const abort = new AbortController();
    this.busy++;
    let sequence: LlamaContextSequence | undefined;
    this.deps.cancels.register(jobId, abort);
    try {
      // The flag covers a cancel published before this worker took the job; its round trip
      // overlaps with building the prompt.
      const flagged = this.deps.publisher.exists(jobCancelKey(jobId));
      const { tokens, templateStops } = this.prompts!.build(job.data);
      if ((await flagged) === 1) abort.abort();
      if (abort.signal.aborted) {
        this.log.debug('job cancelled before start', { jobId });
        return;
      }
      sequence = this.takeSequence(tokens);
      const result = await runGeneration({
        model: this.model!,
        sequence,
        contextSize: this.descriptor.contextSize,
        tokens,
        templateStops,
        promptParam: job.data.kind === 'chat' ? 'messages' : 'prompt',
        sampling: job.data.sampling,
        signal: abort.signal,
        sink: {
          start: (promptTokens) => void events.emit({ type: 'start', workerId: this.deps.workerId, promptTokens }),
          delta: (text) => void events.emit({ type: 'delta', text }),
        },
      });
      if (result.aborted) {
        this.log.debug('job aborted', { jobId, completionTokens: result.usage.completionTokens });
        return;
      }
      await events.emit({ type: 'done', finishReason: result.finishReason, usage: result.usage });
    } catch (err) {
      if (err instanceof GenerationRejected) {
        await events.emit({
          type: 'error',
          status: 400,
          errorType: 'invalid_request_error',
          message: err.message,
          code: err.code,
          param: err.param,
        });
        return;
      }
      this.log.error('generation failed', { jobId, error: (err as Error).stack ?? String(err) });
      await events
        .emit({
          type: 'error',
          status: 500,
          errorType: 'server_error',
          message: 'The model failed while generating this response.',
          code: 'generation_failed',
          param: null,
        })
        .catch(() => undefined);
    } finally {
      if (sequence) this.free.push(sequence);
      this.busy--;
      this.deps.cancels.unregister(jobId);
    }
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

  /** Stops taking jobs, lets running ones finish (BullMQ waits for them), then frees the model. */
  async close(): Promise<void> {
    await this.worker?.close();
    await this.queueConnection?.quit().catch(() => undefined);
    await this.disposeModel();
  }

  private async disposeModel(): Promise<void> {
    await this.context?.dispose();
    await this.model?.dispose();
    this.context = undefined;
    this.model = undefined;
  }
}
