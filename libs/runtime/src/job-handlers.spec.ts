import { BACKENDS } from '@switchyard/contracts';
import { assertHandlesKinds, MissingJobHandlerError } from './job-handlers';

describe('assertHandlesKinds', () => {
  it('passes when every kind of the backend has a handler (extra ones are fine)', () => {
    expect(() => assertHandlesKinds('onnx', ['embeddings', 'classify', 'rerank', 'transcribe', 'speech', 'image'])).not.toThrow();
    expect(() => assertHandlesKinds('upstream', ['upstream', 'tokens'])).not.toThrow();
    for (const [backend, spec] of Object.entries(BACKENDS)) expect(() => assertHandlesKinds(backend as keyof typeof BACKENDS, spec.jobKinds)).not.toThrow();
  });

  it('throws naming the kinds without a handler', () => {
    expect(() => assertHandlesKinds('llama.cpp', ['chat', 'completion'])).toThrow(MissingJobHandlerError);
    expect(() => assertHandlesKinds('llama.cpp', ['chat', 'completion'])).toThrow("'tokens', 'embeddings'");
    expect(() => assertHandlesKinds('runner', [])).toThrow(/runner worker has no handler/);
  });
});
