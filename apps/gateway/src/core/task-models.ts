/**
 * Which configured models serve a kind of job, from the backend table, so a request naming the
 * wrong kind of model gets a clear 400 instead of reaching a worker that cannot run it.
 */
import { acceptsKind, backendOf, ONNX_TASK_KIND, type JobKind, type ModelDescriptor, type OnnxModelDescriptor, type OnnxTask } from '@switchyard/contracts';
import { OpenAIError } from './openai-error';
import type { ModelCatalogService } from './model-catalog.service';

const ENDPOINT: Record<OnnxTask, string> = {
  embeddings: 'embeddings',
  classifier: 'moderations',
  reranker: 'rerank',
  'speech-recognition': 'audio transcriptions',
  'text-to-speech': 'audio speech',
  'image-generation': 'images',
};

/** ONNX models serve their task; GGUF models marked `embedding` serve embeddings (on the llm worker). */
export function servesTask(model: ModelDescriptor, task: OnnxTask): boolean {
  return acceptsKind(model, ONNX_TASK_KIND[task]);
}

/**
 * The named model (or, when the request names none, the first one configured for the task), checked
 * to serve the task.
 */
export function requireTaskModel(catalog: ModelCatalogService, id: string | undefined, task: 'embeddings'): ModelDescriptor;
export function requireTaskModel(catalog: ModelCatalogService, id: string | undefined, task: 'classifier' | 'reranker' | 'speech-recognition' | 'text-to-speech' | 'image-generation'): OnnxModelDescriptor;
export function requireTaskModel(catalog: ModelCatalogService, id: string | undefined, task: OnnxTask): ModelDescriptor {
  if (id === undefined) {
    const first = catalog.models.find((m) => servesTask(m, task));
    if (!first) throw OpenAIError.badRequest(`No ${ENDPOINT[task]} model is configured; name one in 'model'.`, 'model', 'model_not_found');
    return first;
  }
  const model = catalog.require(id);
  if (!servesTask(model, task)) throw unsupportedKind(model, ONNX_TASK_KIND[task], id);
  return model;
}

/** Throws the 400 for the first job whose kind the model does not accept. */
export function checkAccepts(model: ModelDescriptor, kinds: Iterable<JobKind>): void {
  for (const kind of kinds) if (!acceptsKind(model, kind)) throw unsupportedKind(model, kind);
}

/** The 400 for a kind of job the model does not accept, `id` being the name the request used. */
export function unsupportedKind(model: ModelDescriptor, kind: JobKind, id = model.name): OpenAIError {
  const what = backendOf(model).describe(model);
  switch (kind) {
    case 'chat':
    case 'completion':
      return OpenAIError.badRequest(`The model '${model.name}' is ${what} and cannot generate text.`, 'model', 'model_not_supported');
    case 'embeddings':
      return OpenAIError.badRequest(`The model '${id}' is ${what} and does not support ${ENDPOINT.embeddings}.`, 'model', 'model_not_supported');
    case 'classify':
      return OpenAIError.badRequest(`The model '${id}' is ${what} and does not support ${ENDPOINT.classifier}.`, 'model', 'model_not_supported');
    case 'rerank':
      return OpenAIError.badRequest(`The model '${id}' is ${what} and does not support ${ENDPOINT.reranker}.`, 'model', 'model_not_supported');
    case 'transcribe':
      return OpenAIError.badRequest(`The model '${id}' is ${what} and does not support ${ENDPOINT['speech-recognition']}.`, 'model', 'model_not_supported');
    case 'speech':
      return OpenAIError.badRequest(`The model '${id}' is ${what} and does not support ${ENDPOINT['text-to-speech']}.`, 'model', 'model_not_supported');
    case 'image':
      return OpenAIError.badRequest(`The model '${id}' is ${what} and does not support ${ENDPOINT['image-generation']}.`, 'model', 'model_not_supported');
    case 'tokens':
      // The words the workers answered with before the gateway checked (token tools need a local tokenizer).
      if (acceptsKind(model, 'upstream')) {
        const server = model.backend === 'runner' ? 'an OpenAI-compatible server' : 'an upstream server';
        return OpenAIError.badRequest(`'${model.name}' is served by ${server}; this endpoint needs a local model.`, 'model', 'unsupported_for_upstream');
      }
      return OpenAIError.badRequest(`This ${model.backend === 'onnx' ? model.task : 'embedding'} model cannot serve 'tokens' requests.`, 'model', 'model_not_supported');
    case 'upstream':
      return OpenAIError.badRequest(`The model '${model.name}' is ${what} and does not take pass-through requests.`, 'model', 'model_not_supported');
  }
}
