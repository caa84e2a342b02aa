/**
 * The backend table: for each backend, how its models' queues are named, which job kinds its workers
 * take (and which of them one model accepts), and the BullMQ job options, lock and stall times its
 * jobs run with. The gateway routes and admits from it; each worker checks at boot that it has a
 * handler for every kind its entry lists (`assertHandlesKinds` in the runtime lib).
 *
 * A new backend (whisper, voice, diffusion...) is a `Backend` member plus one entry here: the
 * `satisfies` below fails to compile until the entry exists. Queue names are a migration (see
 * queues.ts): gateways and workers of different versions on one Redis must agree on them.
 */
import type { JobsOptions } from 'bullmq';
import { LLM_JOB_OPTIONS, LLM_LOCK_DURATION_MS, LLM_STALLED_INTERVAL_MS } from './jobs';
import type { QueuedJobData } from './job-routing';
import type { ModelDescriptor } from './models';
import { onnxQueueName, TASK_JOB_OPTIONS, TASK_LOCK_DURATION_MS, TASK_STALLED_INTERVAL_MS } from './onnx-jobs';
import type { OnnxTask } from './onnx-models';
import { llmQueueName, type Backend } from './queues';
import { runnerQueueName } from './runner';
import { UPSTREAM_JOB_OPTIONS, upstreamQueueName } from './upstream';

/** Every kind of job a queue carries (the `kind` of its payload, also the BullMQ job name). */
export type JobKind = QueuedJobData['kind'];

/** A Record so that a new kind in a payload union is a compile error until it is listed. */
const KINDS: Record<JobKind, true> = { chat: true, completion: true, tokens: true, embeddings: true, classify: true, rerank: true, transcribe: true, speech: true, image: true, upstream: true };
export const JOB_KINDS = Object.keys(KINDS) as readonly JobKind[];

/** The descriptor of a model of one backend. */
export type ModelOf<B extends Backend> = Extract<ModelDescriptor, { backend: B }>;

export interface BackendSpec<B extends Backend = Backend> {
  /** The queue of one model. */
  queueName(modelName: string): string;
  /** Every kind this backend's workers take from its queues. */
  jobKinds: readonly JobKind[];
  /** The kinds one model accepts (a subset of `jobKinds`); the gateway answers 400 for the others. */
  accepts(model: ModelOf<B>): readonly JobKind[];
  /** What the model is, for those 400s ("a text generation model"). */
  describe(model: ModelOf<B>): string;
  /** Options of every job added to the backend's queues. */
  jobOptions: JobsOptions;
  /** BullMQ lock of a running job (renewed every half of it) and the stall check's period. */
  lockDurationMs: number;
  stalledIntervalMs: number;
}

/** The task job kind an ONNX model type serves. */
export const ONNX_TASK_KIND: Readonly<Record<OnnxTask, 'embeddings' | 'classify' | 'rerank' | 'transcribe' | 'speech' | 'image'>> = {
  embeddings: 'embeddings',
  classifier: 'classify',
  reranker: 'rerank',
  'speech-recognition': 'transcribe',
  'text-to-speech': 'speech',
  'image-generation': 'image',
};

const TEXT_GENERATION = 'a text generation model';

const TABLE = {
  'llama.cpp': {
    queueName: llmQueueName,
    jobKinds: ['chat', 'completion', 'tokens', 'embeddings'] as const,
    // A GGUF embedding model has an embedding context only; token tools work on either.
    accepts: (m) => (m.embedding === true ? ['tokens', 'embeddings'] : ['chat', 'completion', 'tokens']),
    describe: (m) => (m.embedding === true ? 'an embedding model' : TEXT_GENERATION),
    jobOptions: LLM_JOB_OPTIONS,
    lockDurationMs: LLM_LOCK_DURATION_MS,
    stalledIntervalMs: LLM_STALLED_INTERVAL_MS,
  },
  onnx: {
    queueName: onnxQueueName,
    jobKinds: ['embeddings', 'classify', 'rerank', 'transcribe', 'speech', 'image'] as const,
    accepts: (m) => [ONNX_TASK_KIND[m.task]],
    describe: (m) => `a ${m.task} model`,
    jobOptions: TASK_JOB_OPTIONS,
    lockDurationMs: TASK_LOCK_DURATION_MS,
    stalledIntervalMs: TASK_STALLED_INTERVAL_MS,
  },
  // The gateway passes the client's body through (chat, completions, embeddings) as `upstream` jobs.
  upstream: {
    queueName: upstreamQueueName,
    jobKinds: ['upstream'] as const,
    accepts: () => ['upstream'],
    describe: () => TEXT_GENERATION,
    jobOptions: UPSTREAM_JOB_OPTIONS,
    lockDurationMs: LLM_LOCK_DURATION_MS,
    stalledIntervalMs: LLM_STALLED_INTERVAL_MS,
  },
  // A runner serves a GGUF with the llm jobs, or a local OpenAI-compatible server with upstream jobs.
  runner: {
    queueName: runnerQueueName,
    jobKinds: ['chat', 'completion', 'tokens', 'upstream'] as const,
    accepts: (m) => (m.format === 'upstream' ? ['upstream'] : ['chat', 'completion', 'tokens']),
    describe: () => TEXT_GENERATION,
    jobOptions: LLM_JOB_OPTIONS,
    lockDurationMs: LLM_LOCK_DURATION_MS,
    stalledIntervalMs: LLM_STALLED_INTERVAL_MS,
  },
} satisfies { readonly [B in Backend]: BackendSpec<B> };

export const BACKENDS: { readonly [B in Backend]: BackendSpec<B> } = TABLE;

/** The kinds one backend's workers must handle, as a type (for the hosts' exhaustive handler maps). */
export type BackendJobKind<B extends Backend> = (typeof TABLE)[B]['jobKinds'][number];

/** The backend's entry for a model of any backend. */
export function backendOf(model: ModelDescriptor): BackendSpec {
  return BACKENDS[model.backend] as BackendSpec;
}

/** True when the model accepts jobs of this kind. */
export function acceptsKind(model: ModelDescriptor, kind: JobKind): boolean {
  return backendOf(model).accepts(model).includes(kind);
}
