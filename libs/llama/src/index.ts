/**
 * The llama.cpp engine shared by the llm worker and the remote runner: one GGUF model in memory
 * (LlamaEngine), the rejections it raises, and the loader of the ESM-only node-llama-cpp. Queue and
 * gRPC wiring stay in the apps.
 */
export * from './llama-engine';
export * from './generation-errors';
export * from './node-llama-cpp';
export type * from './output-plan';
export * from './llama-job-engine';
export { compileJsonSchema, UnsupportedSchema, type CompiledSchema } from './schema-grammar/compiler';
