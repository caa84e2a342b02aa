/**
 * The form fields of /v1/audio/transcriptions and /translations (OpenAI's CreateTranscriptionRequest
 * and CreateTranslationRequest), checked into one typed request. Multipart fields are all strings
 * (a number or a boolean arrives as text, a repeated or `name[]` field as an array), so they are
 * parsed here rather than by class-validator, whose DTOs take JSON's types. Unknown fields are
 * ignored, as the JSON endpoints' whitelist drops them.
 */
import { isTimestampGranularity, isTranscriptFormat, TRANSCRIPT_FORMATS, whisperLanguageCode, type TimestampGranularity, type TranscriptFormat } from '@switchyard/audio';
import type { TranscriptTask } from '@switchyard/contracts';
import { OpenAIError } from '../core/openai-error';

/** What multer gives a route for one uploaded file (memory storage); @types/multer is not installed. */
export interface UploadedAudio {
  fieldname: string;
  originalname: string;
  mimetype: string;
  size: number;
  buffer: Buffer;
}

export interface TranscriptionRequest {
  task: TranscriptTask;
  model: string;
  file: UploadedAudio;
  /** ISO-639-1 code, lower case; transcriptions only. */
  language?: string;
  prompt?: string;
  temperature: number;
  responseFormat: TranscriptFormat;
  /** Asked for explicitly (verbose_json only); empty when not. */
  timestampGranularities: TimestampGranularity[];
  /** Transcriptions only. */
  stream: boolean;
}

/** Response formats a stream can carry: its events hold text only, no timestamps. */
export const STREAMABLE_FORMATS: readonly TranscriptFormat[] = ['json', 'text'];

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function invalid(param: string, message: string, code = 'invalid_value'): OpenAIError {
  return OpenAIError.badRequest(message, param, code);
}

/** One text field: absent or empty is undefined; a file part or repeated field is a 400. */
function text(body: Record<string, unknown>, name: string): string | undefined {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(name, `Invalid '${name}': expected one text value.`, 'invalid_type');
  return value;
}

function required(body: Record<string, unknown>, name: string): string {
  const value = text(body, name);
  if (value === undefined) throw invalid(name, `You must provide a '${name}' parameter.`, 'missing_required_parameter');
  return value;
}

function parseTemperature(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = NUMBER.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) throw invalid('temperature', `Invalid 'temperature': expected a number between 0 and 1, got '${value.slice(0, 50)}'.`);
  return n;
}

function parseFormat(value: string | undefined): TranscriptFormat {
  if (value === undefined) return 'json';
  if (!isTranscriptFormat(value)) {
    throw invalid('response_format', `Invalid 'response_format': '${value.slice(0, 50)}'. Expected one of: ${TRANSCRIPT_FORMATS.join(', ')}.`);
  }
  return value;
}

function parseLanguage(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const code = value.trim().toLowerCase();
  // Codes only, as OpenAI: a name ("english") or Whisper's token ("<|en|>") is refused too.
  if (whisperLanguageCode(code) !== code) {
    throw invalid('language', `Invalid 'language': '${value.slice(0, 50)}'. Give the audio's language as an ISO-639-1 code (e.g. 'en').`);
  }
  return code;
}

function parseStream(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalid('stream', `Invalid 'stream': expected 'true' or 'false', got '${value.slice(0, 50)}'.`);
}

/** `timestamp_granularities[]=word` (what the openai SDK sends) and plain repeated fields alike. */
function parseGranularities(body: Record<string, unknown>): TimestampGranularity[] {
  const raw = Object.hasOwn(body, 'timestamp_granularities') ? body.timestamp_granularities : undefined;
  if (raw === undefined) return [];
  const values = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  const out: TimestampGranularity[] = [];
  for (const v of values) {
    if (!isTimestampGranularity(v)) {
      const shown = typeof v === 'string' ? `'${v.slice(0, 50)}'` : 'a non-text value';
      throw invalid('timestamp_granularities', `Invalid 'timestamp_granularities': ${shown}. Expected 'word' and/or 'segment'.`);
    }
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

/**
 * The request from the form's fields and its file, or the 400 (with `param`) for the first field
 * that is wrong. `task` picks the endpoint: translations take no language, stream or granularities.
 */
export function parseTranscriptionForm(task: TranscriptTask, rawBody: unknown, file: UploadedAudio | undefined): TranscriptionRequest {
  const body = typeof rawBody === 'object' && rawBody !== null && !Array.isArray(rawBody) ? (rawBody as Record<string, unknown>) : {};
  const model = required(body, 'model');
  if (!file) {
    const asText = Object.hasOwn(body, 'file');
    throw invalid(
      'file',
      asText ? "'file' must be an uploaded file (a multipart part with a filename), not a text field." : "You must provide a 'file' parameter: the audio file to transcribe.",
      asText ? 'invalid_type' : 'missing_required_parameter',
    );
  }
  if (file.size === 0) throw invalid('file', 'The audio file is empty.', 'empty_file');
  const prompt = text(body, 'prompt');
  const temperature = parseTemperature(text(body, 'temperature'));
  const responseFormat = parseFormat(text(body, 'response_format'));
  const base = { task, model, file, temperature, responseFormat, ...(prompt !== undefined ? { prompt } : {}) };
  if (task === 'translate') return { ...base, timestampGranularities: [], stream: false };

  const language = parseLanguage(text(body, 'language'));
  const timestampGranularities = parseGranularities(body);
  if (timestampGranularities.length > 0 && responseFormat !== 'verbose_json') {
    throw invalid('timestamp_granularities', "'timestamp_granularities' needs response_format 'verbose_json'.", 'invalid_value');
  }
  const stream = parseStream(text(body, 'stream'));
  if (stream && !STREAMABLE_FORMATS.includes(responseFormat)) {
    throw invalid('stream', `Streaming is not available with response_format '${responseFormat}': stream events carry text only. Use ${STREAMABLE_FORMATS.join(' or ')}, or stream=false.`, 'unsupported_value');
  }
  return { ...base, ...(language !== undefined ? { language } : {}), timestampGranularities, stream };
}
