import { deflateSync } from 'node:zlib';
import { compressionRatio, groupWords, judgeWindow, splitWindow } from './whisper-windows';

// A vocabulary where ids ≥ 100 are timestamps: <|t|> = 100 + t / 0.02.
const TS = 100;
const ts = (seconds: number): number => TS + Math.round(seconds / 0.02);

describe('splitWindow', () => {
  it('cuts at consecutive timestamps and moves seek to the start of an unfinished last segment', () => {
    // <|0.00|> a b <|2.00|><|2.00|> c <|4.00|><|4.00|> d  (the last segment is cut off by the window)
    const tokens = [ts(0), 1, 2, ts(2), ts(2), 3, ts(4), ts(4), 4];
    const split = splitWindow(tokens, TS, 30, 3000);
    expect(split.segments.map((s) => [s.start, s.end, s.tokens])).toEqual([
      [30, 32, [ts(0), 1, 2, ts(2)]],
      [32, 34, [ts(2), 3, ts(4)]],
    ]);
    expect(split.advance).toBe(400); // 4 s = 200 positions = 400 frames
  });

  it('keeps the last segment and takes the whole window when it ends on a single timestamp', () => {
    const tokens = [ts(0), 1, ts(1.5), ts(1.5), 2, ts(3)];
    const split = splitWindow(tokens, TS, 0, 2500);
    expect(split.segments.map((s) => [s.start, s.end])).toEqual([
      [0, 1.5],
      [1.5, 3],
    ]);
    expect(split.advance).toBe(2500);
  });

  it('makes one segment without timestamp pairs, ending at the last timestamp or the window', () => {
    expect(splitWindow([ts(0), 1, 2, ts(3.02)], TS, 10, 3000).segments).toEqual([{ start: 10, end: 13.02, tokens: [ts(0), 1, 2, ts(3.02)] }]);
    expect(splitWindow([1, 2], TS, 10, 1234).segments[0]).toMatchObject({ start: 10, end: 22.34 });
    expect(splitWindow([], TS, 0, 100)).toEqual({ segments: [], advance: 100 });
  });

  it('never stalls: a last boundary at 0.00 still advances by the window', () => {
    expect(splitWindow([ts(0), ts(0), 1], TS, 0, 3000).advance).toBe(3000);
  });
});

describe('compressionRatio', () => {
  it('is bytes over zlib bytes, high for repetition loops', () => {
    const text = 'The quick fox runs today.';
    expect(compressionRatio(text)).toBeCloseTo(Buffer.byteLength(text) / deflateSync(Buffer.from(text)).length, 10);
    expect(compressionRatio(' the the the the'.repeat(30))).toBeGreaterThan(2.4);
    expect(compressionRatio(text)).toBeLessThan(2.4);
    expect(compressionRatio('')).toBe(0);
  });
});

describe('judgeWindow', () => {
  const reference = { compressionRatioThreshold: 2.4, logprobThreshold: -1, noSpeechThreshold: 0.6 };
  it('retries a repetitive or unsure decode, and calls an unsure one with likely silence silent', () => {
    expect(judgeWindow({ avgLogprob: -0.3, compressionRatio: 1.2, noSpeechProb: 0.1 }, reference)).toEqual({ retry: false, silent: false });
    expect(judgeWindow({ avgLogprob: -0.3, compressionRatio: 3, noSpeechProb: 0.1 }, reference)).toEqual({ retry: true, silent: false });
    expect(judgeWindow({ avgLogprob: -1.5, compressionRatio: 1.2, noSpeechProb: 0.1 }, reference)).toEqual({ retry: true, silent: false });
    expect(judgeWindow({ avgLogprob: -1.5, compressionRatio: 1.2, noSpeechProb: 0.9 }, reference)).toEqual({ retry: false, silent: true });
    // Confident text is kept even when <|nospeech|> is likely.
    expect(judgeWindow({ avgLogprob: -0.2, compressionRatio: 1.2, noSpeechProb: 0.9 }, reference)).toEqual({ retry: false, silent: false });
  });
  it('turns each check off with null', () => {
    const off = { compressionRatioThreshold: null, logprobThreshold: null, noSpeechThreshold: null };
    expect(judgeWindow({ avgLogprob: -5, compressionRatio: 9, noSpeechProb: 1 }, off)).toEqual({ retry: false, silent: false });
  });
});

describe('groupWords', () => {
  it('starts a word at a leading space, joins pieces and punctuation to it', () => {
    const words = groupWords([
      { text: ' The', start: 0, end: 0.5 },
      { text: ' qu', start: 0.5, end: 0.7 },
      { text: 'ick', start: 0.7, end: 1 },
      { text: ' fox', start: 1, end: 1.4 },
      { text: '.', start: 1.4, end: 1.5 },
    ]);
    expect(words).toEqual([
      { word: 'The', start: 0, end: 0.5 },
      { word: 'quick', start: 0.5, end: 1 },
      { word: 'fox', start: 1, end: 1.5 },
    ]);
  });
});
