import type { TokenAnswer, ToolCall } from './jobs';
import type { ImageDelta, ImageProgress } from './image-jobs';
import type { TaskResult } from './onnx-jobs';

/**
 * Backend-neutral events a worker emits for one job. The gateway alone turns them into OpenAI's
 * wire format. Every event carries `seq`, starting at 0 and increasing by one, so gaps are detectable.
 */

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the cache (OpenAI's prompt_tokens_details.cached_tokens). */
  cachedTokens?: number;
  /** Completion tokens spent on reasoning (completion_tokens_details.reasoning_tokens). */
  reasoningTokens?: number;
}

/** The worker has taken the job. */
export interface StartEvent {
  type: 'start';
  seq: number;
  workerId: string;
  promptTokens: number;
  /** The prompt as text, sent when the job asked for `echo`. */
  echo?: string;
  /** Set when `max_tokens` asked for more than the context has room for, to the tokens allowed. */
  maxTokensClamped?: number;
}

/** One alternative token with its log probability (natural log), as OpenAI reports it. */
export interface TopLogprob {
  token: string;
  logprob: number;
  /** UTF-8 bytes of the token (a token may hold part of a character). */
  bytes: number[];
}

/** The sampled token with its log probability and the most likely alternatives, best first. */
export interface TokenLogprob extends TopLogprob {
  top: TopLogprob[];
}

/**
 * A fragment of one tool call, streamed as OpenAI streams them: the first fragment of each call has
 * its `id` and `name`, later ones carry more of `arguments` (JSON text, concatenated in order).
 */
export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  arguments?: string;
}

/**
 * A piece of output (never containing a stop sequence): answer text, reasoning text (between the
 * model's thinking markers), tool-call fragments, and the log probabilities of the tokens it came from
 * when the job asked for them. Any of them may be empty.
 */
export interface DeltaEvent {
  type: 'delta';
  seq: number;
  text: string;
  reasoning?: string;
  toolCalls?: ToolCallDelta[];
  logprobs?: TokenLogprob[];
  /** A piece of synthesized speech, base64, in the job's response format (speech jobs; `text` is then empty). */
  audio?: string;
  /** An image (finished, or a preview when `partial` is set), for image jobs; `text` is then empty. */
  image?: ImageDelta;
  /** Denoising progress of an image job. */
  progress?: ImageProgress;
}

export interface DoneEvent {
  type: 'done';
  seq: number;
  finishReason: FinishReason;
  usage: Usage;
}

/** OpenAI error categories the workers may report. */
export type JobErrorType = 'invalid_request_error' | 'server_error' | 'rate_limit_error';

export interface ErrorEvent {
  type: 'error';
  seq: number;
  status: number;
  errorType: JobErrorType;
  message: string;
  code: string | null;
  param: string | null;
  /** Sent to the client as Retry-After (an upstream's 429 or 503 said when to come back). */
  retryAfterSeconds?: number;
}

/**
 * The whole answer of a job that does not stream (token tools, embeddings, classification, rerank),
 * as JSON; the last event of such a job.
 */
export interface ResultEvent<D extends ResultData = ResultData> {
  type: 'result';
  seq: number;
  /** The worker that answered, when it says (task jobs report it for the X-Switchyard-Worker header). */
  workerId?: string;
  data: D;
}

/**
 * What a result carries, by job kind: a token tool's answer, a task's result, or an upstream's
 * whole OpenAI response (passed through as JSON, with the client's model name).
 */
export interface JobResults {
  tokens: TokenAnswer;
  embeddings: TaskResult;
  classify: TaskResult;
  rerank: TaskResult;
  transcribe: TaskResult;
  speech: TaskResult;
  image: TaskResult;
  upstream: Record<string, unknown>;
}

export type ResultData = JobResults[keyof JobResults];

export type JobEvent = StartEvent | DeltaEvent | DoneEvent | ResultEvent | ErrorEvent;

/** An event as its producer writes it: the publisher (or the runner's gateway) numbers it. */
export type UnsequencedEvent<E extends JobEvent = JobEvent> = E extends JobEvent ? Omit<E, 'seq'> : never;

/** True for the events after which no more events come for the job. */
export function isTerminalEvent(event: JobEvent): event is DoneEvent | ResultEvent | ErrorEvent {
  return event.type === 'done' || event.type === 'result' || event.type === 'error';
}

/** Collects streamed tool-call fragments into whole calls (non-streaming answers, clients, tests). */
export function mergeToolCallDeltas(calls: ToolCall[], deltas: readonly ToolCallDelta[]): void {
  for (const d of deltas) {
    const call = (calls[d.index] ??= { id: '', name: '', arguments: '' });
    if (d.id) call.id = d.id;
    if (d.name) call.name = d.name;
    if (d.arguments) call.arguments += d.arguments;
  }
}
