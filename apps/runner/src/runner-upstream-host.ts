/**
 * A model of a local OpenAI-compatible server (Ollama, LM Studio, vLLM, llama.cpp's server) served
 * through the runner, with the upstream client and router of libs/upstream: the runner receives the same
 * pass-through jobs the upstream worker takes from its queue.
 */
import type { BackendJobKind, UpstreamJobData, UpstreamModelDescriptor } from '@switchyard/contracts';
import { UpstreamFailure, UpstreamRouter } from '@switchyard/upstream';
import type { Logger } from '@switchyard/runtime';
import type { RunnerEvent, RunnerJobHandler } from './runner-job-handler';

export class RunnerUpstreamHost implements RunnerJobHandler {
  /** The runner kinds this host runs (the runner checks at boot that its hosts cover the table's). */
  static readonly handledKinds: readonly BackendJobKind<'runner'>[] = ['upstream'];
  readonly format = 'upstream' as const;
  private readonly router: UpstreamRouter;

  constructor(
    private readonly descriptor: UpstreamModelDescriptor,
    private readonly runnerName: string,
    private readonly log: Logger,
  ) {
    this.router = new UpstreamRouter(descriptor, log);
  }

  get name(): string {
    return this.descriptor.name;
  }

  get parallel(): number {
    return this.descriptor.concurrency;
  }

  get contextSize(): number {
    return this.descriptor.contextSize;
  }

  async run(data: unknown, signal: AbortSignal, emit: (event: RunnerEvent) => void): Promise<void> {
    const job = data as UpstreamJobData;
    if (job.kind !== 'upstream') {
      emit({ type: 'error', status: 400, errorType: 'invalid_request_error', message: `'${this.name}' is served by an OpenAI-compatible server; this endpoint needs a local model.`, code: 'unsupported_for_upstream', param: 'model' });
      return;
    }
    emit({ type: 'start', workerId: this.runnerName, promptTokens: 0 });
    try {
      let answer: Record<string, unknown> | undefined;
      const result = await this.router.run(job.endpoint, job.body, { delta: (d) => emit({ type: 'delta', ...d }), result: (data) => (answer = data) }, signal);
      if (result.aborted) return;
      if (answer !== undefined) emit({ type: 'result', data: { ...answer, model: job.model } });
      else emit({ type: 'done', finishReason: result.finishReason, usage: result.usage });
    } catch (err) {
      if (err instanceof UpstreamFailure) {
        emit(err.toEvent());
      } else {
        this.log.error('upstream call failed', { model: this.name, error: (err as Error).stack ?? String(err) });
        emit({ type: 'error', status: 500, errorType: 'server_error', message: 'The runner failed while serving this request.', code: 'runner_failed', param: null });
      }
    }
  }

  async dispose(): Promise<void> {
    // Nothing held: each request is its own HTTP call.
  }
}
