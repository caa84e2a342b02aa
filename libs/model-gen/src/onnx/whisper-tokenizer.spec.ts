import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { byteLevelTables, generateWhisperVocab, toByteLevel, WHISPER_BASE_VOCAB, WHISPER_LANGUAGES, whisperTokenizerJson } from './whisper-tokenizer';
import { SENTENCE_WORDS, wordGroupIds } from './whisper-timing';

// A real multilingual Whisper tokenizer and generation config, where the machine has them.
const REAL = join(process.env.SWITCHYARD_SHARED_MODELS ?? join(__dirname, '../../../../../shared/models'), 'tokenizers/whisper');

describe('generateWhisperVocab', () => {
  it('orders the byte tokens as GPT-2 does (id 220 is a space)', () => {
    const { tokens, byByte } = byteLevelTables();
    expect(tokens).toHaveLength(256);
    expect(new Set(tokens).size).toBe(256);
    expect(tokens[0]).toBe('!');
    expect(tokens[220]).toBe(byByte[32]);
    expect(toByteLevel(' é')).toBe(`${byByte[32]}${byByte[0xc3]}${byByte[0xa9]}`);
  });

  it('builds every word of the sentences as one token, and the specials after the BPE part', () => {
    const v = generateWhisperVocab({ extraWords: SENTENCE_WORDS });
    expect(wordGroupIds(v).flat().every((id) => id < v.baseSize)).toBe(true);
    expect(v.eot).toBe(v.baseSize);
    expect(v.sot).toBe(v.eot + 1);
    expect([...v.languages.keys()]).toEqual(WHISPER_LANGUAGES);
    expect(v.noTimestamps + 1).toBe(v.timestampBegin);
    expect(v.tokens[v.timestampBegin]).toBe('<|0.00|>');
    expect(v.tokens.at(-1)).toBe('<|30.00|>');
    expect(new Set(v.tokens).size).toBe(v.tokens.length);
  });

  it("puts the specials at openai/whisper's ids with a real-size vocabulary", () => {
    const v = generateWhisperVocab({ baseSize: WHISPER_BASE_VOCAB });
    expect(v.tokens).toHaveLength(51865);
    expect([v.eot, v.sot, v.languages.get('en'), v.translate, v.transcribe, v.startOfPrev, v.noTimestamps, v.timestampBegin]).toEqual([
      50257, 50258, 50259, 50358, 50359, 50361, 50363, 50364,
    ]);
  });

  if (!existsSync(REAL)) console.warn(`SKIPPED the real Whisper tokenizer comparison: ${REAL} not found`);
  (existsSync(REAL) ? it : it.skip)('matches the real tokenizer: language ids, task ids and suppressed bytes', () => {
    const real = JSON.parse(readFileSync(join(REAL, 'generation_config.json'), 'utf8')) as {
      lang_to_id: Record<string, number>;
      task_to_id: Record<string, number>;
      suppress_tokens: number[];
    };
    const v = generateWhisperVocab({ baseSize: WHISPER_BASE_VOCAB });
    expect(Object.fromEntries([...v.languages].map(([code, id]) => [`<|${code}|>`, id]))).toEqual(real.lang_to_id);
    expect({ transcribe: v.transcribe, translate: v.translate }).toEqual(real.task_to_id);
    expect(v.suppressed).toEqual(real.suppress_tokens.filter((id) => id < 256));
  });

  it('marks the control tokens special and the timestamps not (transformers.js tells them apart by id)', () => {
    const v = generateWhisperVocab();
    const json = whisperTokenizerJson(v) as { added_tokens: Array<{ id: number; content: string; special: boolean }> };
    const byContent = new Map(json.added_tokens.map((t) => [t.content, t]));
    expect(byContent.get('<|notimestamps|>')).toMatchObject({ id: v.noTimestamps, special: true });
    expect(byContent.get('<|1.00|>')).toMatchObject({ id: v.timestampBegin + 50, special: false });
  });
});
