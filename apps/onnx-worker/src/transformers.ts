/**
 * Loads transformers.js (`@huggingface/transformers`, on onnxruntime-node in Node) with a dynamic
 * `import()`, which the `node16` module setting keeps as is, and configures it for offline use:
 * models come only from local folders, never from a hub.
 */
import type * as Transformers from '@huggingface/transformers' with { 'resolution-mode': 'import' };

export type TransformersModule = typeof Transformers;
export type { PreTrainedModel, PreTrainedTokenizer, Tensor } from '@huggingface/transformers' with { 'resolution-mode': 'import' };

let loaded: Promise<TransformersModule> | undefined;

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
