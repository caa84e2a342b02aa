// Original file: libs/contracts/proto/runner.proto


export interface ModelSpec {
  'name'?: (string);
  /**
   * "llm" (GGUF served by the runner) or "upstream" (a local OpenAI-compatible server).
   */
  'format'?: (string);
  'parallel'?: (number);
  'context_size'?: (number);
}

export interface ModelSpec__Output {
  'name': (string);
  /**
   * "llm" (GGUF served by the runner) or "upstream" (a local OpenAI-compatible server).
   */
  'format': (string);
  'parallel': (number);
  'context_size': (number);
}
