/**
 * One model the runner serves: an engine from the libs (llama.cpp for a GGUF, the upstream engine
 * for a local OpenAI-compatible server), driven by the jobs the gateway sends over the gRPC stream
 * instead of a BullMQ queue. The engine's handlers are the ones the workers run, so a runner answers
 * every job with the same events; the gateway numbers them.
 */
import type { UnsequencedEvent } from '@switchyard/contracts';
import { runKind, type Logger, type ModelEngine } from '@switchyard/runtime';

export type RunnerEvent = UnsequencedEvent;

export interface RunnerModelSpec {
  name: string;
  /** How the gateway talks to it: llm jobs, or pass-through upstream jobs. */
  format: 'llm' | 'upstream';
  parallel: number;
  contextSize: number;
}

export class RunnerModel<J extends { kind: string }> {
  constructor(
    readonly spec: RunnerModelSpec,
    private readonly engine: ModelEngine<J>,
    private readonly runnerName: string,
    private readonly log: Logger,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  async load(): Promise<void> {
    const started = Date.now();
    await this.engine.load();
    this.log.info('model ready', { model: this.name, ms: Date.now() - started, ...this.engine.describe() });
  }

  /** Runs one job to its end; resolves after the terminal event (none when aborted). */
  async run(jobId: string, data: unknown, signal: AbortSignal, emit: (event: RunnerEvent) => void): Promise<void> {
    const end = await runKind(this.engine, data as J, { jobId, workerId: this.runnerName, signal, emit, cancelFlagged: async () => false }, { model: this.name, log: this.log });
    if (end) emit(end);
  }

  dispose(): Promise<void> {
    return this.engine.dispose();
  }
}
