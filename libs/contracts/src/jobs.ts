/**
 * Job payloads carried on the BullMQ queues, and the job options that belong with them.
 */
import type { JobsOptions } from 'bullmq';

/** Sampling settings, already validated and defaulted by the gateway. */
export interface SamplingParams {
  temperature: number;
  topP: number;
  topK?: number;
  minP?: number;
  repeatPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  /** Upper bound on generated tokens; undefined means "until the context is full". */
  maxTokens?: number;
  /** Strings that end generation and are never emitted. */
  stop: string[];
}

export type ChatRole = 'system' | 'user' | 'assistant' | 'developer';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

interface GenerationJobBase {
  /** Model name as configured (aliases already resolved). */
  model: string;
  sampling: SamplingParams;
  /** Ollama-style per-request keep-alive in ms (-1 forever, 0 unload when idle); overrides the model's. */
  keepAliveMs?: number;
  /** Epoch ms when the gateway enqueued the job, for queue-wait metrics. */
  enqueuedAt: number;
}

export interface ChatJobData extends GenerationJobBase {
  kind: 'chat';
  messages: ChatMessage[];
}

export interface CompletionJobData extends GenerationJobBase {
  kind: 'completion';
  /** Raw text, or token ids as OpenAI's legacy endpoint accepts. */
  prompt: string | number[];
}

export type LlmJobData = ChatJobData | CompletionJobData;
export type LlmJobName = LlmJobData['kind'];

/**
 * A generation is not replayed once it may have streamed tokens, so a single attempt; finished jobs
 * are removed at once (their events live in the per-job stream), failed ones kept briefly for debugging.
 */
export const LLM_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { age: 3600, count: 1000 },
};

/**
 * Longest time the llm worker may hold a job without renewing its lock (renewed every half of it;
 * generation runs on native threads, so the event loop is free to renew). A worker killed mid-job
 * is detected by the others' stall check once its lock expires, and the job goes back to wait.
 */
export const LLM_LOCK_DURATION_MS = 15_000;
export const LLM_STALLED_INTERVAL_MS = 5_000;
