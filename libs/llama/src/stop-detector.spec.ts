import { StopDetector } from './stop-detector';

function run(stops: string[], pieces: string[]): { out: string; stopped: boolean } {
  const d = new StopDetector(stops);
  let out = '';
  for (const p of pieces) {
    const r = d.push(p);
    out += r.emit;
    if (r.stopped) return { out, stopped: true };
  }
  return { out: out + d.flush(), stopped: false };
}

describe('StopDetector', () => {
  it('passes text through when no stop is configured', () => {
    expect(run([], ['a', 'b'])).toEqual({ out: 'ab', stopped: false });
  });

  it('stops before a stop string inside one piece', () => {
    expect(run(['END'], ['abcENDxyz'])).toEqual({ out: 'abc', stopped: true });
  });

  it('stops on a stop string split across pieces and never emits its start', () => {
    const d = new StopDetector(['<|end|>']);
    expect(d.push('hello <|')).toEqual({ emit: 'hello ', stopped: false });
    expect(d.push('en')).toEqual({ emit: '', stopped: false });
    expect(d.push('d|> more')).toEqual({ emit: '', stopped: true });
  });

  it('releases held text once it can no longer start a stop', () => {
    const d = new StopDetector(['\n\n']);
    expect(d.push('a\n')).toEqual({ emit: 'a', stopped: false });
    expect(d.push('b')).toEqual({ emit: '\nb', stopped: false });
  });

  it('picks the earliest of several stops', () => {
    expect(run(['zz', 'b'], ['aazzb'])).toEqual({ out: 'aa', stopped: true });
  });

  it('flushes a held partial match at the end', () => {
    expect(run(['STOP'], ['xx', 'ST'])).toEqual({ out: 'xxST', stopped: false });
  });
});
