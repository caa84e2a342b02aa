/**
 * What the runner does with a job of one model: run it and report the neutral events (without seq;
 * the gateway numbers them). Two kinds: a GGUF served in-process, a local OpenAI-compatible server.
 */
import type { UnsequencedEvent } from '@switchyard/contracts';

export type RunnerEvent = UnsequencedEvent;

export interface RunnerJobHandler {
  readonly name: string;
  readonly format: 'llm' | 'upstream';
  readonly parallel: number;
  readonly contextSize: number;
  /** Runs one job to its end; resolves after the terminal event (none when aborted). */
  run(data: unknown, signal: AbortSignal, emit: (event: RunnerEvent) => void): Promise<void>;
  dispose(): Promise<void>;
}
