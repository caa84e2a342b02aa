/**
 * The llama.cpp engine as its hosts run it: one handler per job kind the backend table gives
 * llama.cpp (generations, token tools, embeddings), each turning a job into its events. The llm
 * worker hosts it behind the model's BullMQ queue (QueueHost), the runner behind its gRPC stream.
 */
import type { EmbeddingsJobData, LlamaCppModelDescriptor, LlmJobData, LlmQueueJob } from '@switchyard/contracts';
import { kindList, type JobContext, type JobOutcome, type KindHandlers, type LoadReporter, type ModelEngine } from '@switchyard/runtime';
import { LlamaEngine } from './llama-engine';
import type { Llama, NodeLlamaCppModule } from './node-llama-cpp';

/** The jobs of an llm queue: generations and token tools, and embeddings for GGUF embedding models. */
export type LlamaJob = LlmQueueJob | EmbeddingsJobData;

export class LlamaJobEngine implements ModelEngine<LlamaJob> {
  /** The kinds it has handlers for (the hosts check them against the backend table at boot). */
  static readonly kinds = kindList<LlamaJob>({ chat: true, completion: true, tokens: true, embeddings: true });
  readonly abortable = true;
  readonly failure = { code: 'generation_failed', message: 'The model failed while answering this request.' };
  readonly handlers: KindHandlers<LlamaJob>;
  private readonly engine: LlamaEngine;

  constructor(descriptor: LlamaCppModelDescriptor, lib: NodeLlamaCppModule, llama: Llama) {
    this.engine = new LlamaEngine(descriptor, lib, llama);
    this.handlers = {
      chat: { cancellable: true, run: (job, ctx) => this.generate(job, ctx) },
      completion: { cancellable: true, run: (job, ctx) => this.generate(job, ctx) },
      tokens: { run: async (job, ctx) => ({ type: 'result', workerId: ctx.workerId, data: await this.engine.answerTokens(job.request) }) },
      embeddings: {
        run: async (job, ctx) => {
          ctx.emit({ type: 'start', workerId: ctx.workerId, promptTokens: 0 });
          return { type: 'result', workerId: ctx.workerId, data: await this.engine.embed(job) };
        },
      },
    };
  }

  load(report?: LoadReporter): Promise<void> {
    return this.engine.load(report);
  }

  dispose(): Promise<void> {
    return this.engine.dispose();
  }

  describe(): Record<string, unknown> {
    const d = this.engine.descriptor;
    return { path: d.path, contextSize: d.contextSize, parallel: d.parallel, threads: d.threads, ...this.engine.describe() };
  }

  private async generate(job: LlmJobData, ctx: JobContext): Promise<JobOutcome<LlmJobData['kind']>> {
    const result = await this.engine.generate(
      job,
      ctx.signal,
      {
        start: (info) => ctx.emit({ type: 'start', workerId: ctx.workerId, ...info }),
        delta: (delta) => ctx.emit({ type: 'delta', ...delta }),
      },
      // A cancel flagged before this host took the job aborts the signal; its round trip overlapped
      // prompt building.
      async () => void (await ctx.cancelFlagged()),
    );
    return result.aborted ? undefined : { type: 'done', finishReason: result.finishReason, usage: result.usage };
  }
}
