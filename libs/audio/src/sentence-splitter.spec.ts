import { splitSpeechText } from './sentence-splitter';

const nonSpace = (s: string): string => s.replace(/\s+/g, '');

describe('splitSpeechText', () => {
  it('splits at sentence ends, keeping the punctuation', () => {
    expect(splitSpeechText('Hello there, friend. How are you today? I am fine, thank you; and how are you?')).toEqual([
      'Hello there, friend.',
      'How are you today?',
      'I am fine, thank you;',
      'and how are you?',
    ]);
  });

  it('keeps abbreviations, decimals, initials and ellipses inside their sentence', () => {
    expect(splitSpeechText('Mr. Smith paid 3.14 dollars, e.g. cash, to J. R. Tolkien. Then he left... quietly. That was the end.')).toEqual([
      'Mr. Smith paid 3.14 dollars, e.g. cash, to J. R. Tolkien.',
      'Then he left... quietly.',
      'That was the end.',
    ]);
  });

  it('splits CJK sentences and lines', () => {
    expect(splitSpeechText('你好世界，这是我们的第一句话。这是我们的第二句话！\nNew line here')).toEqual(['你好世界，这是我们的第一句话。', '这是我们的第二句话！', 'New line here']);
    // Short CJK sentences join without a space.
    expect(splitSpeechText('你好。再见。')).toEqual(['你好。再见。']);
  });

  it('joins fragments too short to say into a neighbour', () => {
    expect(splitSpeechText('Oh. No. This is a longer sentence here.')).toEqual(['Oh. No. This is a longer sentence here.']);
    expect(splitSpeechText('This is a longer sentence here. Oh no.')).toEqual(['This is a longer sentence here. Oh no.']);
  });

  it('cuts long sentences at commas, then spaces; the first piece by firstMaxChars', () => {
    const long = Array.from({ length: 30 }, (_, i) => `clause number ${i}`).join(', ') + '.';
    const pieces = splitSpeechText(long, { maxChars: 100, firstMaxChars: 40 });
    expect(pieces[0].length).toBeLessThanOrEqual(40);
    for (const p of pieces.slice(1)) expect(p.length).toBeLessThanOrEqual(100);
    expect(pieces.slice(1).some((p) => p.length > 40)).toBe(true);
    expect(nonSpace(pieces.join(' '))).toBe(nonSpace(long));
    const words = 'word '.repeat(100);
    for (const p of splitSpeechText(words, { maxChars: 50 })) expect(p.length).toBeLessThanOrEqual(50);
    expect(splitSpeechText('x'.repeat(120), { maxChars: 50 })).toEqual(['x'.repeat(50), 'x'.repeat(50), 'x'.repeat(20)]);
  });

  it('whitespace is nothing; every character is kept in order', () => {
    expect(splitSpeechText('  \n\t ')).toEqual([]);
    const text = 'A first one. "Quoted!" she said? (Bracketed.) Last';
    expect(nonSpace(splitSpeechText(text).join(' '))).toBe(nonSpace(text));
  });
});
