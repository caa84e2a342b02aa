import { mergeToolCallDeltas, type ToolCall, type ToolCallDelta } from '@switchyard/contracts';
import { prefixRules } from '../grammars';
import { JsonValueScanner } from './json-scanner';
import { ReasoningSplitter } from './reasoning';
import { topEntries } from './token-logprobs';
import { JsonToolCallStream, NativeToolCallStream, ToolCallDetector } from './tool-calls';

/** Feeds text in pieces of `size` characters and collects what comes out. */
function feed<T>(text: string, size: number, push: (piece: string) => T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...push(text.slice(i, i + size)));
  return out;
}

function calls(deltas: ToolCallDelta[]): ToolCall[] {
  const merged: ToolCall[] = [];
  mergeToolCallDeltas(merged, deltas);
  return merged;
}

describe('JsonValueScanner', () => {
  it.each([
    ['{"a": "}", "b": [1, {"c": "\\""}]} trailing', '{"a": "}", "b": [1, {"c": "\\""}]}'],
    ['  [1, 2] x', '  [1, 2]'],
    ['"a\\"b" rest', '"a\\"b"'],
  ])('finds where %s ends', (text, value) => {
    for (const size of [1, 3, 100]) {
      const scanner = new JsonValueScanner();
      let taken = 0;
      for (let i = 0; i < text.length && !scanner.done; i += size) taken += scanner.push(text.slice(i, i + size));
      expect(scanner.done).toBe(true);
      expect(text.slice(0, taken)).toBe(value);
    }
  });
});

describe('JsonToolCallStream', () => {
  const text = '[{"name": "get_weather", "arguments": {"city": "Paris", "note": "a \\"}\\" b"}}, {"name": "get_time", "arguments": {}}]';

  it.each([1, 2, 7, 1000])('streams calls with ids and names first, then argument fragments (pieces of %i)', (size) => {
    let n = 0;
    const stream = new JsonToolCallStream(() => `call_${n++}`);
    const deltas = feed(text, size, (p) => stream.push(p));
    // The first fragment of each call carries its id and whole name, later ones only arguments.
    const firsts = deltas.filter((d) => d.id !== undefined);
    expect(firsts.map((d) => [d.index, d.id, d.name])).toEqual([
      [0, 'call_0', 'get_weather'],
      [1, 'call_1', 'get_time'],
    ]);
    expect(deltas.filter((d) => d.id === undefined).every((d) => d.name === undefined)).toBe(true);
    const merged = calls(deltas);
    expect(JSON.parse(merged[0].arguments)).toEqual({ city: 'Paris', note: 'a "}" b' });
    expect(JSON.parse(merged[1].arguments)).toEqual({});
    expect(stream.count).toBe(2);
  });

  it('reads a single forced call object', () => {
    const stream = new JsonToolCallStream(() => 'id');
    expect(calls(stream.push('{"name":"f","arguments":{"x":[1,2]}}'))).toEqual([{ id: 'id', name: 'f', arguments: '{"x":[1,2]}' }]);
  });
});

describe('template-syntax tool calls', () => {
  it('holds back a prefix split across pieces and passes on the text after it', () => {
    const detector = new ToolCallDetector(['<tool_call>']);
    expect(detector.push('Sure <tool')).toEqual({ content: 'Sure ', after: '' });
    expect(detector.push('_call>{"na')).toEqual({ content: '', after: '{"na' });
    expect(detector.detected).toBe(true);
  });

  it('gives held text back when no call follows', () => {
    const detector = new ToolCallDetector(['||call: ']);
    expect(detector.push('a ||')).toEqual({ content: 'a ', after: '' });
    expect(detector.push('b')).toEqual({ content: '||b', after: '' });
    expect(detector.flush()).toBe('');
  });

  it.each([1, 4, 100])('streams name then arguments and ignores the suffix (pieces of %i)', (size) => {
    const stream = new NativeToolCallStream({ prefixes: ['||call: '], paramsPrefix: '(', suffix: ')' }, 2, () => 'c');
    const deltas = feed('get_weather({"city": "Oslo"}) trailing', size, (p) => stream.push(p));
    expect(calls(deltas)[2]).toEqual({ id: 'c', name: 'get_weather', arguments: '{"city": "Oslo"}' });
    expect(stream.complete).toBe(true);
  });
});

describe('ReasoningSplitter', () => {
  const markers = { open: '<think>', close: '</think>' };

  it.each([1, 3, 100])('splits thinking from the answer with markers split across pieces (pieces of %i)', (size) => {
    const splitter = new ReasoningSplitter(markers, false);
    const pieces = feed('<think>\nplan it</think>\n\nThe answer <think> stays', size, (p) => [splitter.push(p)]);
    pieces.push(splitter.flush());
    expect(pieces.map((p) => p.reasoning).join('')).toBe('plan it');
    expect(pieces.map((p) => p.content).join('')).toBe('The answer <think> stays');
  });

  it('starts inside the block when the prompt opened it, and treats text without markers as the answer', () => {
    const inside = new ReasoningSplitter(markers, true);
    expect(inside.push('hmm</think>ok')).toEqual({ reasoning: 'hmm', content: 'ok' });
    const plain = new ReasoningSplitter(markers, false);
    expect(plain.push('just text <think>x</think>')).toEqual({ reasoning: '', content: 'just text <think>x</think>' });
  });
});

describe('grammar helpers', () => {
  it('prefixes rule names but not text inside literals and character classes', () => {
    const g = 'root ::= "root" item [a-z-]\nitem ::= "item" | root';
    expect(prefixRules(g, 'f0-')).toBe('f0-root ::= "root" f0-item [a-z-]\nf0-item ::= "item" | f0-root');
  });
});

describe('topEntries', () => {
  it('keeps the n most likely, best first, in one pass', () => {
    const m = new Map([
      [1, 0.1],
      [2, 0.5],
      [3, 0.05],
      [4, 0.3],
      [5, 0.05],
    ]);
    expect(topEntries(m, 3)).toEqual([
      [2, 0.5],
      [4, 0.3],
      [1, 0.1],
    ]);
    expect(topEntries(m, 0)).toEqual([]);
  });
});
