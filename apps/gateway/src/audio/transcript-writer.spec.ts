import type { TranscribeResult } from '@switchyard/contracts';
import { DeltaText, transcriptDeltaEvent, transcriptDoneEvent } from './transcript-writer';

const result: TranscribeResult = {
  kind: 'transcribe',
  text: ' Hello there. General Kenobi.',
  language: 'en',
  durationS: 3.2,
  segments: [],
  outputTokens: 9,
  promptTokens: 4,
  audioTokens: 160,
};

describe('transcript events', () => {
  it('writes the delta event in OpenAI’s shape', () => {
    expect(JSON.stringify(transcriptDeltaEvent(' there'))).toBe('{"type":"transcript.text.delta","delta":" there"}');
  });

  it('writes the done event with token usage: input = prompt text + audio', () => {
    expect(transcriptDoneEvent(result)).toEqual({
      type: 'transcript.text.done',
      text: 'Hello there. General Kenobi.',
      usage: { type: 'tokens', input_tokens: 164, output_tokens: 9, total_tokens: 173, input_token_details: { text_tokens: 4, audio_tokens: 160 } },
    });
  });

  it('makes deltas that add up to the done text: the first loses its leading blank, empty ones are dropped', () => {
    const d = new DeltaText();
    const sent = ['', '  ', ' Hello there.', '', ' General Kenobi.'].map((t) => d.next(t)).filter((t) => t !== undefined);
    expect(sent).toEqual(['Hello there.', ' General Kenobi.']);
    expect(sent.join('')).toBe(transcriptDoneEvent(result).text);
  });
});
