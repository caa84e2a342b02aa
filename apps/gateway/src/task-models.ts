/**
 * Which configured models can serve a task endpoint, so a request naming the wrong kind of model
 * gets a clear 400 instead of reaching a worker that cannot run it.
 */
import type { ModelDescriptor, OnnxModelDescriptor, OnnxTask } from '@switchyard/contracts';
import { OpenAIError } from './openai-error';
import type { ModelCatalogService } from './model-catalog.service';

const ENDPOINT: Record<OnnxTask, string> = {
  embeddings: 'embeddings',
  classifier: 'moderations',
  reranker: 'rerank',
};

/** ONNX models serve their task; GGUF models marked `embedding` serve embeddings (on the llm worker). */
export function servesTask(model: ModelDescriptor, task: OnnxTask): boolean {
  if (model.backend === 'onnx') return model.task === task;
  return task === 'embeddings' && model.backend === 'llama.cpp' && model.embedding === true;
}

/**
 * The named model (or, when the request names none, the first one configured for the task), checked
 * to serve the task.
 */
export function requireTaskModel(catalog: ModelCatalogService, id: string | undefined, task: 'embeddings'): ModelDescriptor;
export function requireTaskModel(catalog: ModelCatalogService, id: string | undefined, task: 'classifier' | 'reranker'): OnnxModelDescriptor;
export function requireTaskModel(catalog: ModelCatalogService, id: string | undefined, task: OnnxTask): ModelDescriptor {
  if (id === undefined) {
    const first = catalog.models.find((m) => servesTask(m, task));
    if (!first) throw OpenAIError.badRequest(`No ${ENDPOINT[task]} model is configured; name one in 'model'.`, 'model', 'model_not_found');
    return first;
  }
  const model = catalog.require(id);
  if (!servesTask(model, task)) {
    const what = describeModel(model);
    throw OpenAIError.badRequest(`The model '${id}' is ${what} and does not support ${ENDPOINT[task]}.`, 'model', 'model_not_supported');
  }
  return model;
}

function describeModel(model: ModelDescriptor): string {
  if (model.backend === 'onnx') return `a ${model.task} model`;
  return model.backend === 'llama.cpp' && model.embedding ? 'an embedding model' : 'a text generation model';
}
