import { OpenAIError } from '../core/openai-error';
import { transcribeJob } from './audio.controller';
import { parseTranscriptionForm, type UploadedAudio } from './create-transcription.dto';

const file: UploadedAudio = { fieldname: 'file', originalname: 'a.wav', mimetype: 'audio/wav', size: 4, buffer: Buffer.from([1, 2, 3, 4]) };

function rejection(fn: () => unknown): { status: number; param: string | null; code: string | null; message: string } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof OpenAIError)) throw err;
    return { status: err.getStatus(), param: err.param, code: err.code, message: err.message };
  }
  throw new Error('expected a rejection');
}

describe('parseTranscriptionForm', () => {
  it('applies OpenAI defaults for a minimal form', () => {
    const r = parseTranscriptionForm('transcribe', { model: 'whisper-1' }, file);
    expect(r).toEqual({ task: 'transcribe', model: 'whisper-1', file, temperature: 0, responseFormat: 'json', timestampGranularities: [], stream: false });
  });

  it('parses every field of a transcription', () => {
    const r = parseTranscriptionForm(
      'transcribe',
      { model: 'w', language: 'DE', prompt: 'Hallo', temperature: '0.25', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment', 'word'] },
      file,
    );
    expect(r).toMatchObject({ language: 'de', prompt: 'Hallo', temperature: 0.25, responseFormat: 'verbose_json', timestampGranularities: ['word', 'segment'] });
  });

  it('takes a single plain timestamp_granularities field', () => {
    const r = parseTranscriptionForm('transcribe', { model: 'w', response_format: 'verbose_json', timestamp_granularities: 'word' }, file);
    expect(r.timestampGranularities).toEqual(['word']);
  });

  it.each([
    [{}, 'model', 'missing_required_parameter'],
    [{ model: ['a', 'b'] }, 'model', 'invalid_type'],
    [{ model: 'w', temperature: '1.5' }, 'temperature', 'invalid_value'],
    [{ model: 'w', temperature: '-0.1' }, 'temperature', 'invalid_value'],
    [{ model: 'w', temperature: 'hot' }, 'temperature', 'invalid_value'],
    [{ model: 'w', temperature: '0x1' }, 'temperature', 'invalid_value'],
    [{ model: 'w', temperature: 'Infinity' }, 'temperature', 'invalid_value'],
    [{ model: 'w', response_format: 'diarized_json' }, 'response_format', 'invalid_value'],
    [{ model: 'w', language: 'english' }, 'language', 'invalid_value'],
    [{ model: 'w', language: 'xx' }, 'language', 'invalid_value'],
    [{ model: 'w', language: '<|en|>' }, 'language', 'invalid_value'],
    [{ model: 'w', response_format: 'verbose_json', timestamp_granularities: ['sentence'] }, 'timestamp_granularities', 'invalid_value'],
    [{ model: 'w', response_format: 'verbose_json', timestamp_granularities: { a: 'word' } }, 'timestamp_granularities', 'invalid_value'],
    [{ model: 'w', timestamp_granularities: ['word'] }, 'timestamp_granularities', 'invalid_value'],
    [{ model: 'w', response_format: 'srt', timestamp_granularities: 'segment' }, 'timestamp_granularities', 'invalid_value'],
    [{ model: 'w', stream: 'yes' }, 'stream', 'invalid_value'],
    [{ model: 'w', stream: 'true', response_format: 'srt' }, 'stream', 'unsupported_value'],
    [{ model: 'w', stream: 'true', response_format: 'verbose_json' }, 'stream', 'unsupported_value'],
  ])('refuses %j with a 400 on %s', (body, param, code) => {
    expect(rejection(() => parseTranscriptionForm('transcribe', body, file))).toMatchObject({ status: 400, param, code });
  });

  it('streams json and text', () => {
    expect(parseTranscriptionForm('transcribe', { model: 'w', stream: 'true' }, file).stream).toBe(true);
    expect(parseTranscriptionForm('transcribe', { model: 'w', stream: 'TRUE', response_format: 'text' }, file).stream).toBe(true);
    expect(parseTranscriptionForm('transcribe', { model: 'w', stream: 'false', response_format: 'srt' }, file).stream).toBe(false);
  });

  it('accepts the temperature bounds and treats empty fields as absent', () => {
    expect(parseTranscriptionForm('transcribe', { model: 'w', temperature: '1' }, file).temperature).toBe(1);
    expect(parseTranscriptionForm('transcribe', { model: 'w', temperature: '0' }, file).temperature).toBe(0);
    expect(parseTranscriptionForm('transcribe', { model: 'w', temperature: '', language: '', prompt: '' }, file)).not.toHaveProperty('language');
  });

  it('refuses a missing, text-only or empty file on param file', () => {
    expect(rejection(() => parseTranscriptionForm('transcribe', { model: 'w' }, undefined))).toMatchObject({ status: 400, param: 'file', code: 'missing_required_parameter' });
    expect(rejection(() => parseTranscriptionForm('transcribe', { model: 'w', file: 'audio.wav' }, undefined))).toMatchObject({ param: 'file', code: 'invalid_type' });
    expect(rejection(() => parseTranscriptionForm('transcribe', { model: 'w' }, { ...file, size: 0, buffer: Buffer.alloc(0) }))).toMatchObject({
      param: 'file',
      code: 'empty_file',
    });
  });

  it('ignores language, stream and granularities on translations (not translation fields)', () => {
    const r = parseTranscriptionForm('translate', { model: 'w', language: 'nope', stream: 'true', timestamp_granularities: 'x', response_format: 'srt' }, file);
    expect(r).toEqual({ task: 'translate', model: 'w', file, temperature: 0, responseFormat: 'srt', timestampGranularities: [], stream: false });
  });

  it('still checks the translation fields it has', () => {
    expect(rejection(() => parseTranscriptionForm('translate', { model: 'w', temperature: '2' }, file))).toMatchObject({ param: 'temperature' });
  });
});

describe('transcribeJob', () => {
  it('sends the file as base64 and asks for words only with verbose_json word granularity', () => {
    const words = transcribeJob(parseTranscriptionForm('transcribe', { model: 'alias', response_format: 'verbose_json', timestamp_granularities: ['word'] }, file), 'whisper');
    expect(words).toMatchObject({ kind: 'transcribe', model: 'whisper', task: 'transcribe', audio: 'AQIDBA==', filename: 'a.wav', words: true, stream: false, temperature: 0 });
    const segments = transcribeJob(parseTranscriptionForm('transcribe', { model: 'w', response_format: 'verbose_json' }, file), 'whisper');
    expect(segments.words).toBe(false);
    const streamed = transcribeJob(parseTranscriptionForm('transcribe', { model: 'w', stream: 'true', language: 'fr', prompt: 'p' }, file), 'whisper');
    expect(streamed).toMatchObject({ stream: true, language: 'fr', prompt: 'p', words: false });
  });
});
