import { patternGrammar } from './pattern';
import { load, rng } from './regular-gbnf';
import { RuleSet, UnsupportedSchema } from './rules';

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
