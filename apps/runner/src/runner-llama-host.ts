/**
 * A GGUF model served inside the runner by llama.cpp, with the llm worker's own generation code
 * (prompt building, sampling loop, stop sequences, cancellation) used as a library: the runner
 * receives the same chat/completion jobs the llm worker takes from its queue.
 */
import type { ErrorEvent, LlamaCppModelDescriptor, LlmJobData } from '@switchyard/contracts';
import type { Logger } from '@switchyard/runtime';
import { GenerationRejected, PromptBuilder, cachedPrefix, runGeneration } from '../../llm-worker/src/generation';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, NodeLlamaCppModule } from '../../llm-worker/src/node-llama-cpp';
import type { RunnerEvent, RunnerJobHandler } from './runner-job-handler';

export class RunnerLlamaHost implements RunnerJobHandler {
  readonly format = 'llm' as const;
  private model: LlamaModel | undefined;
  private context: LlamaContext | undefined;
  private prompts: PromptBuilder | undefined;
  private readonly free: LlamaContextSequence[] = [];

  constructor(
    private readonly descriptor: LlamaCppModelDescriptor,
    private readonly runnerName: string,
    private readonly log: Logger,
  ) {}

  get name(): string {
    return this.descriptor.name;
  }

  get parallel(): number {
    return this.descriptor.parallel;
  }

  get contextSize(): number {
    return this.descriptor.contextSize;
  }

  async load(lib: NodeLlamaCppModule, llama: Llama): Promise<void> {
    const d = this.descriptor;
    const started = Date.now();
    this.model = await llama.loadModel({ modelPath: d.path, gpuLayers: d.gpuLayers });
    this.context = await this.model.createContext({ contextSize: d.contextSize, sequences: d.parallel, threads: d.threads, batchSize: Math.min(512, d.contextSize) });
    for (let i = 0; i < d.parallel; i++) this.free.push(this.context.getSequence());
    this.prompts = new PromptBuilder(lib, this.model);
    this.log.info('model ready', { model: d.name, path: d.path, ms: Date.now() - started, parallel: d.parallel, threads: d.threads });
  }

  async run(data: unknown, signal: AbortSignal, emit: (event: RunnerEvent) => void): Promise<void> {
    const job = data as LlmJobData;
    let sequence: LlamaContextSequence | undefined;
    try {
      const { tokens, templateStops } = this.prompts!.build(job);
      if (signal.aborted) return;
      sequence = this.take(tokens);
      const result = await runGeneration({
        model: this.model!,
        sequence,
        contextSize: this.descriptor.contextSize,
        tokens,
        templateStops,
        promptParam: job.kind === 'chat' ? 'messages' : 'prompt',
        sampling: job.sampling,
        signal,
        sink: {
          start: (promptTokens) => emit({ type: 'start', workerId: this.runnerName, promptTokens }),
          delta: (text) => emit({ type: 'delta', text }),
        },
      });
      if (!result.aborted) emit({ type: 'done', finishReason: result.finishReason, usage: result.usage });
    } catch (err) {
      const event: Omit<ErrorEvent, 'seq'> =
        err instanceof GenerationRejected
          ? { type: 'error', status: 400, errorType: 'invalid_request_error', message: err.message, code: err.code, param: err.param }
          : { type: 'error', status: 500, errorType: 'server_error', message: 'The model failed while generating this response.', code: 'generation_failed', param: null };
      if (!(err instanceof GenerationRejected)) this.log.error('generation failed', { model: this.name, error: (err as Error).stack ?? String(err) });
      emit(event);
    } finally {
      if (sequence) this.free.push(sequence);
    }
  }

  /** The free sequence whose cache shares the longest prefix with the prompt. */
  private take(tokens: Parameters<typeof cachedPrefix>[1]): LlamaContextSequence {
    if (this.free.length === 0) throw new Error('no free sequence (more jobs than parallel slots)');
    let best = 0;
    let bestLen = -1;
    this.free.forEach((s, i) => {
      const len = cachedPrefix(s, tokens);
      if (len > bestLen) {
        best = i;
        bestLen = len;
      }
    });
    return this.free.splice(best, 1)[0];
  }

  async dispose(): Promise<void> {
    await this.context?.dispose();
    await this.model?.dispose();
  }
}
