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
  /** Token id → bias added to its logit; -100 bans the token, 100 all but forces it. */
  logitBias?: Record<number, number>;
}

/** A function the model may call (OpenAI's `tools[].function`). */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** A call the assistant made, as it appears in the history and in responses. */
export interface ToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments object. */
  arguments: string;
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict: boolean };

export type ChatRole = 'system' | 'user' | 'assistant' | 'developer' | 'tool';

export interface ChatMessage {
  role: ChatRole;
  /** Text content (parts joined); empty for an assistant turn that only called tools. */
  content: string;
  /** Calls made by an assistant turn. */
  toolCalls?: ToolCall[];
  /** For role `tool`: the call this message answers. */
  toolCallId?: string;
  /** For role `tool`: the function's name when the client or history says it. */
  name?: string;
  /** Reasoning an assistant turn produced, when the client sends it back. */
  reasoning?: string;
}

interface GenerationJobBase {
  /** Model name as configured (aliases already resolved). */
  model: string;
  sampling: SamplingParams;
  /** Ollama-style per-request keep-alive in ms (-1 forever, 0 unload when idle); overrides the model's. */
  keepAliveMs?: number;
  /** Epoch ms when the gateway enqueued the job, for queue-wait metrics. */
  enqueuedAt: number;
  /** Report log probabilities of the sampled tokens, with this many alternatives each (0-20). */
  logprobs?: { top: number };
  /** Constrain the output to a GBNF grammar (llama.cpp server's `grammar` extra). */
  grammar?: string;
  /** Constrain the output to JSON (any object, or one matching a schema). */
  responseFormat?: ResponseFormat;
}

export interface ChatJobData extends GenerationJobBase {
  kind: 'chat';
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** Allow more than one call in a turn (OpenAI's default: true). */
  parallelToolCalls?: boolean;
  /** OpenAI's `reasoning_effort`; accepted and carried, not yet used by the chat templates. */
  reasoningEffort?: string;
}

export interface CompletionJobData extends GenerationJobBase {
  kind: 'completion';
  /** Raw text, or token ids as OpenAI's legacy endpoint accepts. */
  prompt: string | number[];
  /** Send the prompt back before the completion (StartEvent.echo). */
  echo?: boolean;
}

export type LlmJobData = ChatJobData | CompletionJobData;

/** Token tools answered by the worker holding the model (no generation). */
export type TokenRequest =
  | { op: 'tokenize'; text: string; addSpecial: boolean; parseSpecial: boolean; withPieces: boolean }
  | { op: 'detokenize'; tokens: number[] }
  | { op: 'apply-template'; messages: ChatMessage[]; tools?: ToolDefinition[] }
  | { op: 'logits'; text: string; top: number; sampling?: SamplingParams };

/** A token tool's answer, by op: token ids (with their pieces when asked), text, a prompt, or piece -> probability. */
export type TokenAnswer =
  | { tokens: number[] | Array<{ id: number; piece: string }> }
  | { content: string }
  | { prompt: string }
  | Record<string, number>;

export interface TokenJobData {
  kind: 'tokens';
  model: string;
  request: TokenRequest;
  keepAliveMs?: number;
  enqueuedAt: number;
}

/** Stamped on every queued job by the gateway that waits on its events. */
export interface JobOwner {
  /** Id of that gateway (its heartbeat is `gatewayHeartbeatKey(owner)`); absent on older gateways' jobs. */
  owner?: string;
  /** The HTTP request's id (`x-request-id`), for the worker's log lines about this job. */
  requestId?: string;
}

/** Everything on a llama.cpp model's queue. */
export type LlmQueueJob = LlmJobData | TokenJobData;
export type LlmJobName = LlmQueueJob['kind'];

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
