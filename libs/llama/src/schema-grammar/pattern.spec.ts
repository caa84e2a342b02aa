import { patternGrammar } from './pattern';
import { RuleSet, UnsupportedSchema } from './rules';

// ---------------------------------------------------------------------------------------------
// A reader for the regular GBNF subset these grammars use (literals, classes, groups, alternation,
// postfix repetition, non-recursive rule references): it turns the emitted text into a JS RegExp
// and samples strings from it, so every check goes through the grammar text itself.
// (The same helper sits in formats.spec.ts; it can move to a shared test helper.)
type G =
  | { k: 'lit'; cps: number[] }
  | { k: 'cls'; neg: boolean; ranges: [number, number][] }
  | { k: 'ref'; name: string }
  | { k: 'seq'; xs: G[] }
  | { k: 'alt'; xs: G[] }
  | { k: 'rep'; x: G; min: number; max: number };

function parseGbnf(text: string): Map<string, G> {
  const rules = new Map<string, G>();
  for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
    const m = /^([a-zA-Z0-9-]+) ::= (.*)$/.exec(line);
    if (m === null) throw new Error(`bad rule line: ${line}`);
    const cps = Array.from(m[2], (c) => c.codePointAt(0)!);
    let pos = 0;
    const ch = (): string => (pos < cps.length ? String.fromCodePoint(cps[pos]) : '');
    const ws = (): void => {
      while (ch() === ' ') pos++;
    };
    const hexN = (n: number): number => {
      const v = parseInt(String.fromCodePoint(...cps.slice(pos, pos + n)), 16);
      pos += n;
      return v;
    };
    const char = (): number => {
      if (ch() !== '\\') return cps[pos++];
      pos++;
      const e = String.fromCodePoint(cps[pos++]);
      const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, '"': 34, '[': 91, ']': 93 };
      if (e === 'x') return hexN(2);
      if (e === 'u') return hexN(4);
      if (e === 'U') return hexN(8);
      if (e in simple) return simple[e];
      throw new Error(`bad escape \\${e}`);
    };
    const alt = (): G => {
      const xs = [seq()];
      while (ch() === '|') {
        pos++;
        xs.push(seq());
      }
      return xs.length === 1 ? xs[0] : { k: 'alt', xs };
    };
    const seq = (): G => {
      const xs: G[] = [];
      ws();
      while (pos < cps.length && ch() !== '|' && ch() !== ')') {
        xs.push(postfix(atom()));
        ws();
      }
      return { k: 'seq', xs };
    };
    const atom = (): G => {
      const c = ch();
      if (c === '"') {
        pos++;
        const lit: number[] = [];
        while (ch() !== '"') lit.push(char());
        pos++;
        return { k: 'lit', cps: lit };
      }
      if (c === '[') {
        pos++;
        const neg = ch() === '^';
        if (neg) pos++;
        const ranges: [number, number][] = [];
        while (ch() !== ']') {
          const lo = char();
          if (ch() === '-' && String.fromCodePoint(cps[pos + 1]) !== ']') {
            pos++;
            ranges.push([lo, char()]);
          } else ranges.push([lo, lo]);
        }
        pos++;
        return { k: 'cls', neg, ranges };
      }
      if (c === '(') {
        pos++;
        const inner = alt();
        if (ch() !== ')') throw new Error(`missing ) in ${line}`);
        pos++;
        return inner;
      }
      const name = /^[a-zA-Z0-9-]+/.exec(String.fromCodePoint(...cps.slice(pos)));
      if (name === null) throw new Error(`unexpected '${c}' in ${line}`);
      pos += name[0].length;
      return { k: 'ref', name: name[0] };
    };
    const postfix = (x: G): G => {
      for (;;) {
        const c = ch();
        if (c === '*') x = { k: 'rep', x, min: 0, max: Infinity };
        else if (c === '+') x = { k: 'rep', x, min: 1, max: Infinity };
        else if (c === '?') x = { k: 'rep', x, min: 0, max: 1 };
        else if (c === '{') {
          const q = /^\{(\d+)(,(\d*))?\}/.exec(String.fromCodePoint(...cps.slice(pos)))!;
          const min = Number(q[1]);
          x = { k: 'rep', x, min, max: q[2] === undefined ? min : q[3] === '' ? Infinity : Number(q[3]) };
          pos += q[0].length - 1;
        } else return x;
        pos++;
      }
    };
    const body = alt();
    if (pos !== cps.length) throw new Error(`trailing text in ${line}`);
    rules.set(m[1], body);
  }
  return rules;
}

const reChar = (cp: number): string => `\\u{${cp.toString(16)}}`;

function toRegex(rules: Map<string, G>, g: G, visiting = new Set<string>()): string {
  switch (g.k) {
    case 'lit':
      return g.cps.map(reChar).join('');
    case 'cls':
      return `[${g.neg ? '^' : ''}${g.ranges.map(([lo, hi]) => (lo === hi ? reChar(lo) : `${reChar(lo)}-${reChar(hi)}`)).join('')}]`;
    case 'ref': {
      if (visiting.has(g.name)) throw new Error(`recursive rule ${g.name}`);
      const body = rules.get(g.name);
      if (body === undefined) throw new Error(`undefined rule ${g.name}`);
      return `(?:${toRegex(rules, body, new Set([...visiting, g.name]))})`;
    }
    case 'seq':
      return g.xs.map((x) => toRegex(rules, x, visiting)).join('');
    case 'alt':
      return `(?:${g.xs.map((x) => toRegex(rules, x, visiting)).join('|')})`;
    case 'rep':
      return `(?:${toRegex(rules, g.x, visiting)}){${g.min},${g.max === Infinity ? '' : g.max}}`;
  }
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Characters worth trying where a class is large: ASCII (controls, quote, backslash) and beyond. */
const POOL = [
  ...Array.from({ length: 128 }, (_, i) => i),
  0xa0, 0xe9, 0xdf, 0x3b1, 0x4e2d, 0x2028, 0x2029, 0x3000, 0xfeff, 0xfffd, 0x1f600, 0x10ffff,
];

function sample(rules: Map<string, G>, g: G, rand: () => number): string {
  switch (g.k) {
    case 'lit':
      return String.fromCodePoint(...g.cps);
    case 'cls': {
      const inRanges = (cp: number): boolean => g.ranges.some(([lo, hi]) => lo <= cp && cp <= hi);
      const members = POOL.filter((cp) => inRanges(cp) !== g.neg);
      if (members.length > 0 && (g.neg || rand() < 0.7)) return String.fromCodePoint(members[Math.floor(rand() * members.length)]);
      for (;;) {
        const [lo, hi] = g.ranges[Math.floor(rand() * g.ranges.length)];
        const cp = lo + Math.floor(rand() * (hi - lo + 1));
        if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp);
      }
    }
    case 'ref':
      return sample(rules, rules.get(g.name)!, rand);
    case 'seq':
      return g.xs.map((x) => sample(rules, x, rand)).join('');
    case 'alt':
      return sample(rules, g.xs[Math.floor(rand() * g.xs.length)], rand);
    case 'rep': {
      let n = g.min;
      if (g.max !== Infinity && rand() < 0.2) n = g.max;
      else while (n < g.max && rand() < 0.6) n++;
      return Array.from({ length: n }, () => sample(rules, g.x, rand)).join('');
    }
  }
}

/** The grammar for the JSON text of a string value: its root's language as a RegExp, and a sampler. */
function load(grammar: string): { re: RegExp; sample: (rand: () => number) => string } {
  const rules = parseGbnf(grammar);
  const root = rules.get('root')!;
  return { re: new RegExp(`^(?:${toRegex(rules, root)})$`, 'u'), sample: (rand) => sample(rules, root, rand) };
}
// ---------------------------------------------------------------------------------------------

function compile(pattern: string): { grammar: string; re: RegExp; sample: (rand: () => number) => string } {
  const rules = new RuleSet();
  const grammar = rules.grammar(patternGrammar(rules, pattern, '/properties/x/pattern'));
  return { grammar, ...load(grammar) };
}

/** The JSON text of a string value, without its quotes. */
const encode = (value: string): string => JSON.stringify(value).slice(1, -1);

const CORPUS = [
  '^[A-Z]{3}-[0-9]{2}$',
  '^\\d{3}-\\d{4}$',
  'abc',
  '^abc',
  'abc$',
  '^(foo|bar)+$',
  '^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$',
  '^\\w+$',
  '^["\\\\]+$',
  '^[^"\\\\]*$',
  '^a"b\\\\c$',
  '^\\\\d$',
  '^.{2,5}$',
  '^\\s*$',
  '^\\D\\W\\S$',
  '^[\\d\\-.]+$',
  '^[^a-z]{3}$',
  '^\\+?[1-9]\\d{1,14}$',
  '^#[0-9a-fA-F]{6}$',
  '^(?:a|b)*?c+?$',
  '^(?<year>\\d{4})-(?<month>0[1-9]|1[0-2])$',
  '^\\u0041\\x42\\u{1F600}\\t\\n$',
  '^[\\u0000-\\u001f]+$',
  '^[\\b\\cA\\0]$',
  '^[😀-😂]+$',
  '^\\uD83D\\uDE00$',
  '^a|b$',
  '(^foo|bar$)',
  '^(a|)$',
  'x{0}y',
  '^$',
  '',
  '^[^]$',
  'a[]|b',
  '[-a-c-]',
  '^[\\]\\[\\^]+$',
  '^\\/\\.\\*\\(\\)\\{\\}\\|\\?\\+\\$\\^$',
  '^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$',
  '^\\d{5}(-\\d{4})?$',
  '^(\\([0-9]{3}\\))?[0-9]{3}-[0-9]{4}$',
  '^[\\s\\S]{0,3}$',
  '^.*$',
  '\\n',
];

/** Characters for random candidates: those in the pattern, plus ones that need care in JSON. */
function alphabet(pattern: string): string[] {
  const extra = ['a', 'b', 'c', 'A', 'Z', '0', '9', '_', '-', ' ', '"', '\\', '\n', '\r', '\t', '\b', '\u0001', '\u001f', 'é', '😀', '@', '.', '\u2028'];
  return [...new Set([...Array.from(pattern), ...extra])];
}

describe('patternGrammar', () => {
  describe.each(CORPUS)('%j', (pattern) => {
    const js = new RegExp(pattern, 'u');
    const { grammar, re, sample } = compile(pattern);

    it('samples only valid JSON string contents whose value matches', () => {
      const rand = rng(0xc0ffee);
      for (let i = 0; i < 250; i++) {
        const text = sample(rand);
        expect(re.test(text)).toBe(true);
        const value = JSON.parse(`"${text}"`) as string;
        if (!js.test(value)) throw new Error(`${JSON.stringify(text)} does not match ${pattern}\n${grammar}`);
      }
    });

    it('allows exactly the usual encodings of the matching values', () => {
      const rand = rng(42);
      const chars = alphabet(pattern);
      const candidates: string[] = [];
      for (let i = 0; i < 300; i++) {
        const n = Math.floor(rand() * 9);
        candidates.push(Array.from({ length: n }, () => chars[Math.floor(rand() * chars.length)]).join(''));
      }
      for (let i = 0; i < 200; i++) {
        // Samples, and samples one edit away, sit near the boundary of the language.
        const value = Array.from(JSON.parse(`"${sample(rand)}"`) as string);
        const at = Math.floor(rand() * (value.length + 1));
        const edit = Math.floor(rand() * 4);
        if (edit === 1) value.splice(at, 1);
        if (edit === 2) value.splice(at, 0, chars[Math.floor(rand() * chars.length)]);
        if (edit === 3) value.splice(at, 1, chars[Math.floor(rand() * chars.length)]);
        candidates.push(value.join(''));
      }
      for (const value of candidates) {
        if (re.test(encode(value)) !== js.test(value)) {
          throw new Error(`${JSON.stringify(value)}: grammar ${re.test(encode(value))}, regex ${js.test(value)}\n${grammar}`);
        }
      }
    });
  });

  it.each([
    ['^[A-Z]{3}-[0-9]{2}$', ['AB-12', 'ABC-123', 'abc-12', 'ABC-12x', ' ABC-12']],
    ['^\\d{3}-\\d{4}$', ['12-3456', '123-456', '١٢٣-4567']],
    ['^(foo|bar)+$', ['', 'foobaz', 'fo']],
    ['^["\\\\]+$', ['"', '\\', '\\u0022', '\\x']],
    ['^[^"\\\\]*$', ['"', '\\', '\\"', '\\\\', 'a\u0001', '\\x41']],
    ['^.{2,5}$', ['a', 'abcdef', 'a\\n', 'a\nb']],
    ['^\\w+$', ['', 'a-b', 'é']],
  ])('rejects bad JSON text for %j', (pattern, texts) => {
    const { re } = compile(pattern);
    for (const text of texts) expect([text, re.test(text)]).toEqual([text, false]);
  });

  it('writes characters the way JSON.stringify does', () => {
    const { re } = compile('^["\\\\\\n\\t\\u0001\\u007f]+$');
    expect(re.test('\\"\\\\\\n\\t\\u0001\u007f')).toBe(true);
    expect(re.test('\\u0022')).toBe(false);
    expect(re.test('\n')).toBe(false);
  });

  it('emits readable rules and no recursion', () => {
    const rules = new RuleSet();
    const name = patternGrammar(rules, '^[A-Z]{3}-\\d+$', '/pattern');
    expect(rules.grammar(name)).toBe('root ::= pattern\npattern ::= [A-Z]{3} "-" [0-9]+\n');
    const any = new RuleSet();
    expect(any.grammar(patternGrammar(any, 'ab', '/pattern'))).toBe(
      'root ::= pattern\n' +
        'pattern-char ::= [^\\x00-\\x1F\\x22\\x5C] | "\\\\" [\\x22\\x5Cbtnfr] | "\\\\u000" [0-7be-f] | "\\\\u001" [0-9a-f]\n' +
        'pattern ::= pattern-char* "ab" pattern-char*\n',
    );
  });

  it.each([
    ['(?=a)b', /lookahead/],
    ['a(?!b)', /lookahead/],
    ['(?<=a)b', /lookbehind/],
    ['(?<!a)b', /lookbehind/],
    ['(a)\\1', /backreference/],
    ['(?<n>a)\\k<n>', /backreference/],
    ['\\bfoo\\b', /word boundary/],
    ['a\\Bb', /word boundary/],
    ['^\\p{L}+$', /property/],
    ['[\\P{Lu}]', /property/],
    ['a^b', /middle/],
    ['a$b', /middle/],
    ['(^a)+', /quantified/],
    ['^(a$|b)c', /middle/],
    ['[', /valid ECMAScript/],
    ['a{2,1}', /valid ECMAScript/],
    ['\\-', /valid ECMAScript/],
    ['[]', /matches no string/],
    ['^a{1000}{1000}$', /valid ECMAScript|too large/],
    ['^(a{1000}){1000}$', /too large/],
  ])('refuses %j', (pattern, reason) => {
    const attempt = (): string => patternGrammar(new RuleSet(), pattern, '/properties/x/pattern');
    expect(attempt).toThrow(UnsupportedSchema);
    expect(attempt).toThrow(reason);
    try {
      attempt();
    } catch (err) {
      expect(err).toMatchObject({ keyword: 'pattern', path: '/properties/x/pattern' });
    }
  });

  it('refuses inline flag groups', () => {
    // Node may or may not parse ES2025 modifiers; either way the grammar cannot honour them.
    expect(() => patternGrammar(new RuleSet(), '(?i:a)', '/p')).toThrow(UnsupportedSchema);
  });
});
