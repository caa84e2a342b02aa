/**
 * Model descriptors: what the models file says about each model, after validation and defaults.
 */
import type { Backend } from './queues';
import type { UpstreamModelDescriptor } from './upstream';
import type { RunnerModelDescriptor } from './runner';
import type { OnnxModelDescriptor } from './onnx-models';

/** What every model entry has, whatever serves it. */
export interface ModelDescriptorBase {
  name: string;
  aliases: string[];
  backend: Backend;
  /** Longest input in tokens (reported as `context_length` in /v1/models; 0 when unknown). */
  contextSize: number;
  /** Requests allowed to wait for this model before the gateway answers 429. */
  maxQueue: number;
  /** Load on a worker on the first request when no worker holds it. */
  autoLoad: boolean;
  /** Workers load it when they start (otherwise only on demand or by the admin API). */
  preload: boolean;
  /** Unload after this long idle; -1 keeps it loaded. */
  keepAliveMs: number;
  /** The longest hold a request's `keep_alive` may ask for (-1: no cap); absent: `keepAliveMs`. */
  maxKeepAliveMs?: number;
  /** Epoch seconds the entry was read, reported as `created` in /v1/models. */
  created: number;
  ownedBy: string;
}

export interface LlamaCppModelDescriptor extends ModelDescriptorBase {
  backend: Extract<Backend, 'llama.cpp'>;
  /** Absolute path of the GGUF file. */
  path: string;
  /** Parallel sequences in one context = concurrent requests served. */
  parallel: number;
  /** CPU threads for generation; always explicit (the library default oversubscribes small machines). */
  threads: number;
  /** Layers offloaded to a GPU: 'auto', 'max' or a count; 0 on CPU-only builds. */
  gpuLayers: number | 'auto' | 'max';
  /** Split thinking into `reasoning_content`: always, never, or when the chat template uses the markers. */
  reasoning: boolean | 'auto';
  /** Opening and closing thinking markers. */
  reasoningMarkers: [string, string];
  /** An embedding model: served by /v1/embeddings (node-llama-cpp's embedding context), not chat. */
  embedding?: boolean;
}

export type ModelDescriptor = LlamaCppModelDescriptor | UpstreamModelDescriptor | RunnerModelDescriptor | OnnxModelDescriptor;

export interface WorkerModelState {
  name: string;
  state: 'loading' | 'ready' | 'unloading' | 'failed';
  slots: number;
  busy: number;
  contextSize: number;
  threads: number;
  /** Epoch ms of the end of the last job (or of loading). */
  lastUsed: number;
  keepAliveMs: number;
  error?: string;
  /** Long jobs' progress by job id (image jobs: denoising step k of n). */
  progress?: Record<string, { step: number; steps: number }>;
  /** While `loading`: how far the load is (0..1) and its current step (see LoadStep in control.ts). */
  loadProgress?: number;
  loadStage?: string;
}

/** What a worker announces in its heartbeat. */
export interface WorkerHeartbeat {
  id: string;
  host: string;
  pid: number;
  backend: Backend;
  startedAt: number;
  /** Bytes of memory free and in all on the worker's machine, for placing loads. */
  freeMemory: number;
  totalMemory: number;
  /** Models this worker may load (all of the file's, or WORKER_MODELS). */
  servable: string[];
  models: WorkerModelState[];
}
