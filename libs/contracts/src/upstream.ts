/**
 * Upstream backend: a model name routed to one or more OpenAI-compatible servers (vLLM, Ollama,
 * LM Studio, llama.cpp's server, a hosted API), LiteLLM-style. The upstream worker consumes the
 * model's queue and calls the deployments; the gateway passes the validated request body through.
 */
import type { JobsOptions } from 'bullmq';
import type { ModelDescriptorBase } from './models';
import type { Backend } from './queues';

/** One server behind a model name. */
export interface UpstreamDeployment {
  /** Base URL including the version path, e.g. `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  /** Model id the upstream knows (substituted for the client's model name). */
  model: string;
  /** Name of the environment variable holding the API key (the key itself is never in the file). */
  apiKeyEnv?: string;
  /** Time allowed to connect and receive the response headers. */
  connectTimeoutMs: number;
  /** Longest silence between two chunks (or for a whole non-streamed response). */
  idleTimeoutMs: number;
  /** Extra headers sent with every request (e.g. an organisation or a routing header). */
  headers: Record<string, string>;
  /** Relative share of requests under `routing: balance`. */
  weight: number;
  /** Call the upstream with `stream: true` (false: one response, turned into events). */
  stream: boolean;
  /** Ask for usage in streams (`stream_options.include_usage`); off for servers that reject it. */
  includeUsage: boolean;
}

/** `fallback`: always try deployments in order; `balance`: spread by weight, the rest as fallbacks. */
export type UpstreamRouting = 'fallback' | 'balance';

/** `autoLoad`, `preload` and `keepAliveMs` are always false/true/-1: an upstream is not loaded. */
export interface UpstreamModelDescriptor extends ModelDescriptorBase {
  backend: Extract<Backend, 'upstream'>;
  deployments: UpstreamDeployment[];
  routing: UpstreamRouting;
  /** Requests the upstream worker runs at once for this model (per worker). */
  concurrency: number;
}

/** `embeddings` is answered with one result event carrying the upstream's JSON (model renamed). */
export type UpstreamEndpoint = 'chat' | 'completions' | 'embeddings';

/**
 * A request for an upstream model: the client's validated body, minus `model`, `stream` and
 * `stream_options` (the worker sets those per deployment), and with `n` split into one job per
 * choice like every other backend.
 */
export interface UpstreamJobData {
  kind: 'upstream';
  endpoint: UpstreamEndpoint;
  /** Model name as configured (aliases already resolved). */
  model: string;
  body: Record<string, unknown>;
  /** Epoch ms when the gateway enqueued the job. */
  enqueuedAt: number;
}

/** Same policy as llama jobs: one attempt (a stalled, unstreamed job is retried by BullMQ's stall check). */
export const UPSTREAM_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { age: 3600, count: 1000 },
};

/** Queue of an upstream model (same escaping as llama models' queues). */
export function upstreamQueueName(modelName: string): string {
  return `upstream.${safeQueuePart(modelName)}`;
}

export function safeQueuePart(modelName: string): string {
  return modelName.replace(/[^A-Za-z0-9._-]/g, (c) => `~${c.codePointAt(0)!.toString(16)}~`);
}
