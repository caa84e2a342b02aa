import { openapiAvailable, schemaErrors } from '../../../test/support/openapi';
import {
  formatTimestamp,
  formatTranscript,
  isTimestampGranularity,
  isTranscriptFormat,
  TRANSCRIPT_FORMATS,
  transcriptJson,
  transcriptVerboseJson,
  type Transcript,
  type TranscriptSegment,
} from './transcript-formatter';
import { whisperLanguageCode, whisperLanguageName } from './whisper-languages';

function segment(id: number, start: number, end: number, text: string): TranscriptSegment {
  return {
    id,
    seek: Math.floor(start / 30) * 3000,
    start,
    end,
    text,
    tokens: [50364 + id, 440, 7534, 50530],
    temperature: 0,
    avg_logprob: -0.28,
    compression_ratio: 1.23,
    no_speech_prob: 0.01,
  };
}

const transcript: Transcript = {
  text: ' The beach was popular. People --> swam. ',
  language: 'en',
  durationS: 3725.4704,
  segments: [segment(0, 0, 3.32, ' The beach was popular.'), segment(1, 3.32, 5.5, '   '), segment(2, 3600.0005, 3725.47, ' People --> swam.')],
  words: [
    { word: 'The', start: 0, end: 0.4 },
    { word: 'beach', start: 0.4, end: 0.9 },
  ],
};

/** Asserts `body` matches OpenAI's component schema, when the spec is at hand. */
function expectSchema(component: string, body: unknown): void {
  if (openapiAvailable()) expect(schemaErrors(component, body)).toEqual([]);
}

describe('transcript formats', () => {
  it('json: the trimmed text and duration usage in whole seconds, as OpenAI sends it', () => {
    const body = transcriptJson(transcript, { task: 'transcribe' });
    expect(body).toEqual({ text: 'The beach was popular. People --> swam.', usage: { type: 'duration', seconds: 3726 } });
    expectSchema('CreateTranscriptionResponseJson', body);
    expect(transcriptJson(transcript, { task: 'transcribe', usage: false })).toEqual({ text: body.text });
    const translation = transcriptJson(transcript, { task: 'translate' });
    expect(translation).toEqual({ text: body.text });
    expectSchema('CreateTranslationResponseJson', translation);
  });

  it('verbose_json: task, language name, duration, text, segments by default; words only when asked', () => {
    const body = transcriptVerboseJson(transcript, { task: 'transcribe' });
    expect(Object.keys(body)).toEqual(['task', 'language', 'duration', 'text', 'segments', 'usage']);
    expect(body).toMatchObject({ task: 'transcribe', language: 'english', duration: 3725.47, text: 'The beach was popular. People --> swam.' });
    // Segments keep their text as decoded, leading space included, as OpenAI's do.
    expect(body.segments).toEqual(transcript.segments);
    expectSchema('CreateTranscriptionResponseVerboseJson', body);

    const both = transcriptVerboseJson(transcript, { task: 'transcribe', timestampGranularities: ['word', 'segment'] });
    expect(both.words).toEqual(transcript.words);
    expect(both.segments).toEqual(transcript.segments);
    expectSchema('CreateTranscriptionResponseVerboseJson', both);
    const wordsOnly = transcriptVerboseJson(transcript, { task: 'transcribe', timestampGranularities: ['word'] });
    expect(wordsOnly.segments).toBeUndefined();
    expect(wordsOnly.words).toEqual(transcript.words);
    expectSchema('CreateTranscriptionResponseVerboseJson', wordsOnly);
    for (const w of wordsOnly.words as unknown[]) expectSchema('TranscriptionWord', w);
    for (const s of both.segments as unknown[]) expectSchema('TranscriptionSegment', s);
  });

  it('is checked against a live schema (one that refuses a body missing its required fields)', () => {
    if (!openapiAvailable()) return;
    expect(schemaErrors('CreateTranscriptionResponseVerboseJson', { text: 'x' })).not.toEqual([]);
    expect(schemaErrors('TranscriptionSegment', { ...segment(0, 0, 1, 'x'), tokens: ['a'] })).not.toEqual([]);
  });

  it('verbose_json for a translation: always english, segments, no words', () => {
    const body = transcriptVerboseJson({ ...transcript, language: 'de' }, { task: 'translate', timestampGranularities: ['word'] });
    expect(body).toMatchObject({ task: 'translate', language: 'english' });
    expect(body.segments).toHaveLength(3);
    expect(body.words).toBeUndefined();
    expect(body.usage).toBeUndefined();
    expectSchema('CreateTranslationResponseVerboseJson', body);
  });

  it('verbose_json drops fields the worker attached that OpenAI does not send', () => {
    const extra = { ...segment(0, 0, 1, ' Hi.'), words: [], speaker: 'A' } as TranscriptSegment;
    const body = transcriptVerboseJson({ ...transcript, segments: [extra] }, { task: 'transcribe' });
    expect(Object.keys((body.segments as object[])[0])).toEqual([
      'id',
      'seek',
      'start',
      'end',
      'text',
      'tokens',
      'temperature',
      'avg_logprob',
      'compression_ratio',
      'no_speech_prob',
    ]);
  });

  it('text: the text and one newline', () => {
    expect(formatTranscript(transcript, 'text', { task: 'transcribe' })).toEqual({
      contentType: 'text/plain; charset=utf-8',
      body: 'The beach was popular. People --> swam.\n',
    });
  });

  it('srt: numbered from 1, hours always, comma millis, empty segments left out, the arrow defused', () => {
    const { contentType, body } = formatTranscript(transcript, 'srt', { task: 'transcribe' });
    expect(contentType).toBe('text/plain; charset=utf-8');
    expect(body).toBe('1\n00:00:00,000 --> 00:00:03,320\nThe beach was popular.\n\n2\n01:00:00,001 --> 01:02:05,470\nPeople -> swam.\n\n');
  });

  it('vtt: the WEBVTT header, hours always, dot millis', () => {
    const { contentType, body } = formatTranscript(transcript, 'vtt', { task: 'transcribe' });
    expect(contentType).toBe('text/plain; charset=utf-8');
    expect(body).toBe('WEBVTT\n\n00:00:00.000 --> 00:00:03.320\nThe beach was popular.\n\n01:00:00.001 --> 01:02:05.470\nPeople -> swam.\n\n');
  });

  it('subtitles for a transcript without segments: one cue over the audio; none for no text', () => {
    const plain: Transcript = { text: ' Hello. ', language: 'en', durationS: 2.5, segments: [] };
    expect(formatTranscript(plain, 'srt', { task: 'transcribe' }).body).toBe('1\n00:00:00,000 --> 00:00:02,500\nHello.\n\n');
    expect(formatTranscript(plain, 'vtt', { task: 'transcribe' }).body).toBe('WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello.\n\n');
    const silent: Transcript = { text: '', language: 'en', durationS: 2.5, segments: [] };
    expect(formatTranscript(silent, 'srt', { task: 'transcribe' }).body).toBe('');
    expect(formatTranscript(silent, 'vtt', { task: 'transcribe' }).body).toBe('WEBVTT\n\n');
    expect(formatTranscript(silent, 'text', { task: 'transcribe' }).body).toBe('\n');
  });

  it('json bodies are the objects as JSON, with application/json', () => {
    for (const format of ['json', 'verbose_json'] as const) {
      const out = formatTranscript(transcript, format, { task: 'transcribe' });
      expect(out.contentType).toBe('application/json');
      const expected = format === 'json' ? transcriptJson(transcript, { task: 'transcribe' }) : transcriptVerboseJson(transcript, { task: 'transcribe' });
      expect(JSON.parse(out.body)).toEqual(expected);
    }
  });

  it('timestamps round to the millisecond and carry into the next unit', () => {
    expect(formatTimestamp(0, ',')).toBe('00:00:00,000');
    expect(formatTimestamp(59.9996, '.')).toBe('00:01:00.000');
    expect(formatTimestamp(3599.9999, ',')).toBe('01:00:00,000');
    expect(formatTimestamp(36000 + 62.0624, '.')).toBe('10:01:02.062');
    expect(formatTimestamp(-1, ',')).toBe('00:00:00,000');
    expect(formatTimestamp(Number.NaN, ',')).toBe('00:00:00,000');
  });

  it('knows the formats and granularities OpenAI accepts', () => {
    expect([...TRANSCRIPT_FORMATS].sort()).toEqual(['json', 'srt', 'text', 'verbose_json', 'vtt']);
    expect(TRANSCRIPT_FORMATS.every(isTranscriptFormat)).toBe(true);
    expect(isTranscriptFormat('diarized_json')).toBe(false);
    expect(isTranscriptFormat('JSON')).toBe(false);
    expect(isTimestampGranularity('word')).toBe(true);
    expect(isTimestampGranularity('segment')).toBe(true);
    expect(isTimestampGranularity('token')).toBe(false);
  });
});

describe('Whisper languages', () => {
  it('maps codes, names and tokens both ways', () => {
    expect(whisperLanguageName('en')).toBe('english');
    expect(whisperLanguageName('DE')).toBe('german');
    expect(whisperLanguageName('<|fr|>')).toBe('french');
    expect(whisperLanguageName('haitian creole')).toBe('haitian creole');
    expect(whisperLanguageName('yue')).toBe('cantonese');
    expect(whisperLanguageName('xx')).toBeUndefined();
    expect(whisperLanguageName('constructor')).toBeUndefined();
    expect(whisperLanguageCode('English')).toBe('en');
    expect(whisperLanguageCode('haw')).toBe('haw');
    expect(whisperLanguageCode('klingon')).toBeUndefined();
  });

  it('reports an unknown language as given', () => {
    expect(transcriptVerboseJson({ ...transcript, language: 'xx' }, { task: 'transcribe' }).language).toBe('xx');
  });
});
