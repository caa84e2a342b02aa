/**
 * A GGUF model served inside the runner by llama.cpp, through the engine the llm worker uses
 * (libs/llama: prompt building, tools, grammars, reasoning, logprobs, stop sequences, cancellation):
 * the runner receives the same chat/completion jobs the llm worker takes from its queue, and reports
 * the same events.
 */
import type { BackendJobKind, LlamaCppModelDescriptor, LlmQueueJob } from '@switchyard/contracts';
import { LlamaEngine, type Llama, type NodeLlamaCppModule } from '@switchyard/llama';
import { Rejection, rejectionEvent, type Logger, type UnsequencedError } from '@switchyard/runtime';
import type { RunnerEvent, RunnerJobHandler } from './runner-job-handler';

export class RunnerLlamaHost implements RunnerJobHandler {
  /** The runner kinds this host runs (the runner checks at boot that its hosts cover the table's). */
  static readonly handledKinds: readonly BackendJobKind<'runner'>[] = ['chat', 'completion', 'tokens'];
  readonly format = 'llm' as const;
  private engine: LlamaEngine | undefined;

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
    const started = Date.now();
    const engine = new LlamaEngine(this.descriptor, lib, llama);
    await engine.load();
    this.engine = engine;
    this.log.info('model ready', { model: this.name, path: this.descriptor.path, ms: Date.now() - started, parallel: this.parallel, threads: this.descriptor.threads, ...engine.describe() });
  }

  async run(data: unknown, signal: AbortSignal, emit: (event: RunnerEvent) => void): Promise<void> {
    const job = data as LlmQueueJob;
    try {
      switch (job.kind) {
        case 'tokens':
          emit({ type: 'result', data: await this.engine!.answerTokens(job.request) });
          return;
        case 'chat':
        case 'completion': {
          const result = await this.engine!.generate(job, signal, {
            start: (info) => emit({ type: 'start', workerId: this.runnerName, ...info }),
            delta: (delta) => emit({ type: 'delta', ...delta }),
          });
          if (!result.aborted) emit({ type: 'done', finishReason: result.finishReason, usage: result.usage });
          return;
        }
      }
      // A kind the job's JSON carries that this host has no handler for (a newer gateway's).
      emit({ type: 'error', status: 400, errorType: 'invalid_request_error', message: `The model '${this.name}' does not serve '${(job as { kind: string }).kind}' requests.`, code: 'model_not_supported', param: 'model' });
    } catch (err) {
      if (err instanceof Rejection) {
        emit(rejectionEvent(err));
        return;
      }
      this.log.error('generation failed', { model: this.name, error: (err as Error).stack ?? String(err) });
      const event: UnsequencedError = { type: 'error', status: 500, errorType: 'server_error', message: 'The model failed while generating this response.', code: 'generation_failed', param: null };
      emit(event);
    }
  }

  async dispose(): Promise<void> {
    await this.engine?.dispose();
  }
}
