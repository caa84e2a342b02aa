/**
 * Whisper speech recognition (placeholder while the decoder lands in the next commit).
 */
import type { ModelType } from './model-type';

export const speechRecognitionModelType: ModelType = {
  load() {
    return Promise.reject(new Error('speech-recognition is not served yet'));
  },
};
