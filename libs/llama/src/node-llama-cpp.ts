/**
 * Loads node-llama-cpp (ESM-only, top-level await) from this CommonJS app. The `node16` module
 * setting keeps `import()` as a real dynamic import instead of rewriting it into `require`.
 */
import type * as NodeLlamaCpp from 'node-llama-cpp' with { 'resolution-mode': 'import' };

export type NodeLlamaCppModule = typeof NodeLlamaCpp;
export type {
  Llama,
  LlamaModel,
  LlamaContext,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaContextSequenceRepeatPenalty,
  ChatHistoryItem,
  ChatModelFunctions,
  LlamaGrammar,
  LlamaGrammarEvaluationState,
  Token,
  TokenBias,
} from 'node-llama-cpp' with { 'resolution-mode': 'import' };

let loaded: Promise<NodeLlamaCppModule> | undefined;

export function importNodeLlamaCpp(): Promise<NodeLlamaCppModule> {
  loaded ??= import('node-llama-cpp');
  return loaded;
}
