/**
 * Loads transformers.js (`@huggingface/transformers`, on onnxruntime-node in Node) with a dynamic
 * `import()`, which the `node16` module setting keeps as is, and configures it for offline use:
 * models come only from local folders, never from a hub.
 */
import type * as Transformers from '@huggingface/transformers' with { 'resolution-mode': 'import' };

import type { LoadReporter } from '@switchyard/runtime';

export type TransformersModule = typeof Transformers;
export type { PreTrainedModel, PreTrainedTokenizer, Tensor } from '@huggingface/transformers' with { 'resolution-mode': 'import' };

let loaded: Promise<TransformersModule> | undefined;

/**
 * A `progress_callback` for `from_pretrained` that reports a load's steps: reading the model's files
 * (transformers.js's `progress_total`, to 80%), then creating the ONNX Runtime session.
 */
export function loadProgressCallback(report: LoadReporter | undefined): { progress_callback?: (info: Transformers.ProgressInfo) => void } {
  if (!report) return {};
  return {
    progress_callback: (info) => {
      if (info.status !== 'progress_total') return;
      report(info.progress >= 100 ? { progress: 0.8, stage: 'session' } : { progress: (0.8 * info.progress) / 100, stage: 'files' });
    },
  };
}

export function importTransformers(): Promise<TransformersModule> {
  loaded ??= import('@huggingface/transformers').then((lib) => {
    lib.env.allowRemoteModels = false;
    lib.env.allowLocalModels = true;
    lib.env.useFSCache = false;
    lib.env.useBrowserCache = false;
    return lib;
  });
  return loaded;
}
