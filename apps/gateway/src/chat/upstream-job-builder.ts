/**
 * Job payloads for models served by an OpenAI-compatible server (an upstream model, or a runner in
 * front of a local server): the client's body passes through as sent, after the DTO validated the
 * fields the gateway knows, so whatever the upstream supports (tools, tool messages, image parts,
 * response_format, logprobs, echo) reaches it. Only what the gateway owns is taken out: the model
 * name, streaming (the worker streams from the upstream and the gateway answers in the client's
 * mode), and `n` / several prompts, split into one job per choice like every backend.
 * `chatJobsFor` / `completionJobsFor` pick the builder by the model's backend.
 */
import { acceptsKind, type ModelDescriptor, type QueuedJobData, type UpstreamEndpoint, type UpstreamJobData } from '@switchyard/contracts';
import type { InferenceService } from '../core/inference.service';
import type { CreateChatCompletionDto } from './create-chat-completion.dto';
import type { CreateCompletionDto } from './create-completion.dto';
import { buildChatJobs, buildCompletionJobs } from './job-builder';

/** Fields the gateway handles itself and never forwards. */
const GATEWAY_FIELDS = ['model', 'stream', 'stream_options', 'n', 'keep_alive'];

/** True when the model's jobs carry the pass-through body (its backend table entry accepts `upstream` jobs). */
export function passesThrough(model: ModelDescriptor): boolean {
  return acceptsKind(model, 'upstream');
}

function baseBody(raw: unknown): Record<string, unknown> {
  const body = { ...(raw as Record<string, unknown>) };
  for (const k of GATEWAY_FIELDS) delete body[k];
  return body;
}

function job(endpoint: UpstreamEndpoint, model: string, body: Record<string, unknown>): UpstreamJobData {
  return { kind: 'upstream', endpoint, model, body, enqueuedAt: 0 };
}

/** Each choice of n gets its own seed (seed + choice), as for llama.cpp models, so choices differ. */
function withChoice(body: Record<string, unknown>, choice: number): Record<string, unknown> {
  return typeof body.seed === 'number' && choice > 0 ? { ...body, seed: body.seed + choice } : body;
}

export function buildUpstreamChatJobs(raw: unknown, model: string, n: number): UpstreamJobData[] {
  const body = baseBody(raw);
  return Array.from({ length: n }, (_, choice) => job('chat', model, withChoice(body, choice)));
}

export function buildUpstreamCompletionJobs(raw: unknown, model: string, n: number): UpstreamJobData[] {
  const body = baseBody(raw);
  const p = body.prompt as string | string[] | number[] | number[][];
  const prompts: Array<string | number[]> =
    typeof p === 'string' ? [p] : typeof p[0] === 'number' ? [p as number[]] : (p as Array<string | number[]>);
  // OpenAI orders choices prompt-major: index = prompt * n + choice.
  return prompts.flatMap((prompt) => Array.from({ length: n }, (_, choice) => job('completions', model, withChoice({ ...body, prompt }, choice))));
}

export function chatJobsFor(model: ModelDescriptor, dto: CreateChatCompletionDto, raw: unknown): QueuedJobData[] {
  return passesThrough(model) ? buildUpstreamChatJobs(raw, model.name, dto.n ?? 1) : buildChatJobs(dto, model.name);
}

export function completionJobsFor(model: ModelDescriptor, dto: CreateCompletionDto, raw: unknown): QueuedJobData[] {
  return passesThrough(model) ? buildUpstreamCompletionJobs(raw, model.name, dto.n ?? 1) : buildCompletionJobs(dto, model.name);
}

/**
 * Embeddings for a pass-through model: the body goes to the upstream's /embeddings as sent (input,
 * dimensions, encoding_format...), and its answer comes back whole, named after the model.
 */
export function buildUpstreamEmbeddingJob(raw: unknown, model: string): UpstreamJobData {
  return job('embeddings', model, baseBody(raw));
}

export async function upstreamEmbeddings(inference: InferenceService, model: ModelDescriptor, raw: unknown, signal: AbortSignal): Promise<object> {
  return (await inference.request(model, buildUpstreamEmbeddingJob(raw, model.name), signal)) as object;
}
