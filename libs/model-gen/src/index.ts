export * from './gguf-writer';
export * from './gguf-reader';
export * from './tokenizer';
export * from './llama-model';
export * from './onnx/onnx-graph';
export * from './onnx/wordpiece';
export * from './onnx/bert-model';
