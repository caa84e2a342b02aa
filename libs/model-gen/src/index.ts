export * from './gguf-writer';
export * from './gguf-reader';
export * from './tokenizer';
export * from './llama-model';
