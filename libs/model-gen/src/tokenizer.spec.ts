import {
  generateVocab,
  IM_END,
  IM_START,
  minimumVocabSize,
  SPM_SPACE,
  SpmTokenizer,
  THINK_END,
  THINK_START,
  tokenizerMetadata,
  TokenType,
} from './tokenizer';

describe('generateVocab', () => {
  it.each([1024, 4096, 49152, 151936])('gives %d unique pieces', (size) => {
    const v = generateVocab({ vocabSize: size });
    expect(v.tokens).toHaveLength(size);
    expect(v.scores).toHaveLength(size);
    expect(v.tokenTypes).toHaveLength(size);
    expect(new Set(v.tokens).size).toBe(size);
    expect(v.tokens.every((t) => t.length > 0)).toBe(true);
  });

  it('puts the required tokens at fixed ids with the right types', () => {
    const v = generateVocab({ vocabSize: 1024 });
    expect(v.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(Array.from(v.tokenTypes.subarray(0, 3))).toEqual([TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]);
    for (let b = 0; b < 256; b++) {
      expect(v.tokens[3 + b]).toBe(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      expect(v.tokenTypes[3 + b]).toBe(TokenType.BYTE);
    }
    expect(v.tokens[259]).toBe(IM_START);
    expect(v.tokens[260]).toBe(IM_END);
    expect(v.tokenTypes[259]).toBe(TokenType.CONTROL);
    expect(v.tokenTypes[260]).toBe(TokenType.CONTROL);
    expect(v.imStartId).toBe(259);
    expect(v.imEndId).toBe(260);
    expect(v.eosTokenId).toBe(260);
    expect(v.bosTokenId).toBe(1);
    expect(v.unkTokenId).toBe(0);
    expect(v.thinkStartId).toBeUndefined();
    expect(v.tokens).not.toContain(THINK_START);
    expect(v.firstNormalId).toBe(261);
    // everything after the specials is a normal token
    expect(Array.from(v.tokenTypes.subarray(261)).every((t) => t === TokenType.NORMAL)).toBe(true);
  });

  it('adds <think> and </think> as user-defined tokens only when asked', () => {
    const v = generateVocab({ vocabSize: 1024, thinking: true });
    expect(v.tokens[261]).toBe(THINK_START);
    expect(v.tokens[262]).toBe(THINK_END);
    expect(v.tokenTypes[261]).toBe(TokenType.USER_DEFINED);
    expect(v.tokenTypes[262]).toBe(TokenType.USER_DEFINED);
    expect(v.thinkStartId).toBe(261);
    expect(v.thinkEndId).toBe(262);
    expect(v.tokens).toHaveLength(1024);
  });

  it('contains single characters, their ▁ variants and common whole words', () => {
    const v = generateVocab({ vocabSize: 1024 });
    const set = new Set(v.tokens);
    expect(set.has(SPM_SPACE)).toBe(true);
    for (let c = 0x21; c <= 0x7e; c++) {
      const ch = String.fromCharCode(c);
      expect(set.has(ch)).toBe(true);
      expect(set.has(SPM_SPACE + ch)).toBe(true);
    }
    for (const w of ['the', 'a', 'once', 'Once', 'upon', 'time', 'there', 'was', 'little', 'girl', 'hello', 'world']) {
      expect(set.has(SPM_SPACE + w)).toBe(true);
    }
    expect(v.wordCount).toBeGreaterThan(150);
    expect(v.isWord[v.tokens.indexOf(`${SPM_SPACE}the`)]).toBe(1);
    expect(v.isWord[v.tokens.indexOf(`${SPM_SPACE}t`)]).toBe(0);
  });

  it('keeps every prefix of a ▁-piece in the vocabulary (so bigram merges can reach it)', () => {
    for (const size of [1024, 49152]) {
      const v = generateVocab({ vocabSize: size });
      const set = new Set(v.tokens);
      const missing: string[] = [];
      for (let id = v.firstNormalId; id < v.tokens.length; id++) {
        const chars = [...v.tokens[id]!];
        for (let i = 1; i < chars.length; i++) {
          const prefix = chars.slice(0, i).join('');
          if (!set.has(prefix)) missing.push(`${prefix} (of ${v.tokens[id]})`);
        }
      }
      expect(missing).toEqual([]);
    }
  });

  it('scores longer pieces higher and non-normal tokens 0', () => {
    const v = generateVocab({ vocabSize: 2048 });
    const score = (p: string): number => v.scores[v.tokens.indexOf(p)]!;
    expect(score(`${SPM_SPACE}the`)).toBeGreaterThan(score(`${SPM_SPACE}th`));
    expect(score(`${SPM_SPACE}th`)).toBeGreaterThan(score(`${SPM_SPACE}t`));
    expect(score(`${SPM_SPACE}little`)).toBeGreaterThan(score('ab'));
    expect(Array.from(v.scores.subarray(0, v.firstNormalId)).every((s) => s === 0)).toBe(true);
  });

  it('rejects sizes below the minimum', () => {
    expect(() => generateVocab({ vocabSize: minimumVocabSize() - 1 })).toThrow(/vocabSize/);
    expect(generateVocab({ vocabSize: minimumVocabSize() }).tokens).toHaveLength(minimumVocabSize());
  });

  it('is deterministic', () => {
    expect(generateVocab({ vocabSize: 5000 }).tokens).toEqual(generateVocab({ vocabSize: 5000 }).tokens);
  });
});

describe('tokenizerMetadata', () => {
  it('describes a llama (SPM) tokenizer ending chat turns at <|im_end|>', () => {
    const v = generateVocab({ vocabSize: 1024 });
    const md = tokenizerMetadata(v, 'TEMPLATE');
    expect(md['tokenizer.ggml.model']).toEqual({ type: 'string', value: 'llama' });
    expect(md['tokenizer.ggml.bos_token_id']).toEqual({ type: 'uint32', value: 1 });
    expect(md['tokenizer.ggml.eos_token_id']).toEqual({ type: 'uint32', value: v.imEndId });
    expect(md['tokenizer.ggml.unknown_token_id']).toEqual({ type: 'uint32', value: 0 });
    expect(md['tokenizer.ggml.add_bos_token']).toEqual({ type: 'bool', value: true });
    expect(md['tokenizer.ggml.add_eos_token']).toEqual({ type: 'bool', value: false });
    expect(md['tokenizer.chat_template']).toEqual({ type: 'string', value: 'TEMPLATE' });
    expect(tokenizerMetadata(v, null)['tokenizer.chat_template']).toBeUndefined();
  });
});

describe('SpmTokenizer', () => {
  const v = generateVocab({ vocabSize: 1024 });
  const tok = new SpmTokenizer(v);
  const pieces = (text: string): string[] => tok.encode(text).map((id) => v.tokens[id]!);

  it('tokenizes common words as whole ▁-words', () => {
    expect(pieces('Once upon a time there was a little girl')).toEqual(
      ['Once', 'upon', 'a', 'time', 'there', 'was', 'a', 'little', 'girl'].map((w) => SPM_SPACE + w),
    );
    expect(pieces('hello world')).toEqual([`${SPM_SPACE}hello`, `${SPM_SPACE}world`]);
  });

  it('falls back to bytes for characters outside the vocabulary', () => {
    const ids = tok.encode('héllo 🙂');
    const types = ids.map((id) => v.tokenTypes[id]);
    expect(types).toContain(TokenType.BYTE);
    expect(ids).toEqual(expect.arrayContaining([3 + 0xc3, 3 + 0xa9])); // é = C3 A9
    expect(ids.slice(-4)).toEqual([0xf0, 0x9f, 0x99, 0x82].map((b) => 3 + b)); // 🙂
    expect(tok.decode(ids)).toBe('héllo 🙂');
  });

  it('round-trips arbitrary text', () => {
    const samples = [
      'The quick brown fox, 123!\n\tNew line?',
      'Ünïcödé — “quotes” — 中文 — עברית — 🙂👍🏽',
      '  leading and  double  spaces ',
      '<|im_start|> is plain text here',
      '\u0000\u0001 control chars',
    ];
    for (const s of samples) expect(tok.decode(tok.encode(s))).toBe(s);
    let seed = 7;
    for (let n = 0; n < 50; n++) {
      let s = '';
      for (let i = 0; i < 20; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const cp = seed % 5 === 0 ? 0x1f300 + (seed % 200) : 0x20 + (seed % 0x250);
        s += String.fromCodePoint(cp);
      }
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });
});
