/**
 * The model types this worker can serve, by the models file's `task`. The Record makes the compiler
 * report a task without a type; a new type (speech, images) is one file and one line here.
 */
import type { OnnxTask } from '@switchyard/contracts';
import { classifierModelType } from './model-types/classifier.model-type';
import { embeddingsModelType } from './model-types/embeddings.model-type';
import { imageGenerationModelType } from './model-types/image-generation.model-type';
import type { ModelType } from './model-types/model-type';
import { rerankerModelType } from './model-types/reranker.model-type';
import { speechRecognitionModelType } from './model-types/speech-recognition.model-type';
import { textToSpeechModelType } from './model-types/text-to-speech.model-type';

export const MODEL_TYPES: Readonly<Record<OnnxTask, ModelType>> = {
  embeddings: embeddingsModelType,
  classifier: classifierModelType,
  reranker: rerankerModelType,
  'speech-recognition': speechRecognitionModelType,
  'text-to-speech': textToSpeechModelType,
  'image-generation': imageGenerationModelType,
};

