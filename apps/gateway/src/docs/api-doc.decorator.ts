/**
 * One decorator per route for its OpenAPI entry: summary, OpenAI's operationId where OpenAI has the
 * route, what a success answers (JSON, an SSE stream, audio, an image) and, for the multipart
 * routes, the form's fields. Keeps each controller's documentation to one line a method.
 */
import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiResponse, type SchemaObject } from '@nestjs/swagger';

/** What a successful answer is. */
export type Answer = 'json' | 'json-or-sse' | 'text-or-sse' | 'audio-or-sse' | 'image' | 'prometheus';

export interface ApiDocOptions {
  summary: string;
  /** OpenAI's operationId for the same route, so generated clients keep OpenAI's method names. */
  id?: string;
  description?: string;
  /** Default json. */
  answer?: Answer;
  /** What the 200 answer is, in a few words. */
  returns?: string;
  /** A multipart/form-data body with these fields (the routes that take uploads). */
  multipart?: SchemaObject;
}

const SSE = { schema: { type: 'string', description: 'Server-sent events: `data: {json}` lines; OpenAI streams end with `data: [DONE]`.' } };
const JSON_BODY = { schema: { type: 'object' } };

const CONTENT: Record<Answer, Record<string, { schema: SchemaObject }>> = {
  json: { 'application/json': JSON_BODY },
  'json-or-sse': { 'application/json': JSON_BODY, 'text/event-stream': SSE },
  'text-or-sse': {
    'application/json': JSON_BODY,
    'text/plain': { schema: { type: 'string', description: 'response_format text, srt or vtt.' } },
    'text/event-stream': SSE,
  },
  'audio-or-sse': {
    'audio/mpeg': { schema: { type: 'string', format: 'binary' } },
    'audio/wav': { schema: { type: 'string', format: 'binary' } },
    'audio/flac': { schema: { type: 'string', format: 'binary' } },
    'audio/aac': { schema: { type: 'string', format: 'binary' } },
    'audio/ogg': { schema: { type: 'string', format: 'binary', description: 'opus' } },
    'audio/pcm': { schema: { type: 'string', format: 'binary', description: '24 kHz 16-bit mono samples' } },
    'text/event-stream': SSE,
  },
  prometheus: { 'text/plain': { schema: { type: 'string', description: "Prometheus' text exposition format." } } },
  image: {
    'image/png': { schema: { type: 'string', format: 'binary' } },
    'image/jpeg': { schema: { type: 'string', format: 'binary' } },
    'image/webp': { schema: { type: 'string', format: 'binary' } },
  },
};

export function ApiDoc(options: ApiDocOptions): MethodDecorator {
  const answer = options.answer ?? 'json';
  return applyDecorators(
    ApiOperation({ summary: options.summary, ...(options.id ? { operationId: options.id } : {}), ...(options.description ? { description: options.description } : {}) }),
    ApiResponse({ status: 200, description: options.returns ?? 'OK', content: CONTENT[answer] }),
    ...(options.multipart ? [ApiConsumes('multipart/form-data'), ApiBody({ schema: options.multipart })] : []),
  );
}

const file = (description: string): SchemaObject => ({ type: 'string', format: 'binary', description });

/** /v1/audio/transcriptions and /translations (OpenAI's CreateTranscriptionRequest, CreateTranslationRequest). */
export function transcriptionForm(task: 'transcribe' | 'translate'): SchemaObject {
  const common: Record<string, SchemaObject> = {
    file: file('The audio file (any format ffmpeg decodes: flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm, ...).'),
    model: { type: 'string', description: 'A speech-recognition model of the models file.' },
    prompt: { type: 'string', description: "Text to guide the model's style or continue a previous segment." },
    response_format: { type: 'string', enum: ['json', 'text', 'srt', 'verbose_json', 'vtt'], default: 'json' },
    temperature: { type: 'number', minimum: 0, maximum: 1, default: 0 },
  };
  if (task === 'translate') return { type: 'object', required: ['file', 'model'], properties: common };
  return {
    type: 'object',
    required: ['file', 'model'],
    properties: {
      ...common,
      language: { type: 'string', description: "The audio's language as an ISO-639-1 code (e.g. `en`)." },
      'timestamp_granularities[]': {
        type: 'array',
        items: { type: 'string', enum: ['word', 'segment'] },
        description: 'verbose_json only.',
      },
      stream: { type: 'boolean', default: false, description: 'Stream transcript.text.delta events (json and text formats).' },
    },
  };
}

/**
 * /v1/images/edits and /variations: the CreateImageDto fields as form fields, plus the uploads.
 * (The DTO's schema is the component `CreateImageDto`; a form field arrives as text and is typed.)
 */
export function imageForm(mode: 'edit' | 'variation'): SchemaObject {
  return {
    allOf: [
      { $ref: '#/components/schemas/CreateImageDto' },
      {
        type: 'object',
        required: mode === 'edit' ? ['image', 'prompt'] : ['image'],
        properties: {
          image: file(mode === 'edit' ? 'The image to edit (png, jpeg or webp); `image[]` for several.' : 'The image to vary (png, jpeg or webp).'),
          ...(mode === 'edit' ? { mask: file('A png whose transparent pixels mark where to edit.') } : {}),
        },
      },
    ],
  };
}
