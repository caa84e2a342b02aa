import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptsGbnf, GbnfError, parseGbnf, sampleGbnf } from './gbnf-sampler';
import { rng as mulberry32 } from './regular-gbnf';

function samples(gbnf: string, n = 200, seed = 42): string[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => sampleGbnf(gbnf, random));
}

/** Every sample is accepted by the grammar and by an independent regular expression. */
function expectSamplesMatch(gbnf: string, regex: RegExp): string[] {
  const drawn = samples(gbnf);
  for (const text of drawn) {
    expect({ text, accepted: acceptsGbnf(gbnf, text) }).toEqual({ text, accepted: true });
    expect(text).toMatch(regex);
  }
  return drawn;
}

const JSON_GRAMMAR = String.raw`
# A JSON value, with optional whitespace between tokens.
root ::= ws value ws
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( member ( ws "," ws member )* )? ws "}"
member ::= string ws ":" ws value
array ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
string ::= "\"" (
    [^"\\\x00-\x1F]                    # any character but a quote, a backslash or a control
  | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
  )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]{0,8} ) ( "." [0-9]{1,6} )? ( [eE] [-+]? [0-9]{1,3} )?
ws ::= [ \t\n\r]{0,3}
`;

describe('sampleGbnf / acceptsGbnf', () => {
  it('reads string literals with every escape, as code points', () => {
    const gbnf = String.raw`root ::= "a\"b\\c\n\r\t\x41\u00e9\U0001F600\[\]\-"`;
    const expected = 'a"b\\c\n\r\tAé😀[]-';
    expect(samples(gbnf, 5)).toEqual(Array(5).fill(expected));
    expect(acceptsGbnf(gbnf, expected)).toBe(true);
    expect(acceptsGbnf(gbnf, expected.slice(0, -1))).toBe(false);
    expect(acceptsGbnf(gbnf, `${expected}-`)).toBe(false);
  });

  it('samples character classes: ranges, sets, negation, escapes and a literal dash', () => {
    const gbnf = String.raw`root ::= [a-c] [^a-z] [xyz] [\x41-\x43] [-+] [0-] [\]\\] [^\n"]`;
    const drawn = expectSamplesMatch(gbnf, /^[a-c][^a-z][xyz][A-C][-+][0-][\]\\][^\n"]$/su);
    expect(new Set(drawn.map((t) => [...t][0])).size).toBe(3);
    expect(acceptsGbnf(gbnf, 'a!xA-0]x')).toBe(true);
    expect(acceptsGbnf(gbnf, 'aaxA-0]x')).toBe(false);
    expect(acceptsGbnf(gbnf, 'a!xA-0]\n')).toBe(false);
    expect(acceptsGbnf(gbnf, 'd!xA-0]x')).toBe(false);
  });

  it('treats characters as code points, also beyond the BMP', () => {
    const gbnf = 'root ::= [😀-😂]{2} [^a]';
    const drawn = expectSamplesMatch(gbnf, /^[😀-😂]{2}[^a]$/u);
    for (const text of drawn) expect([...text]).toHaveLength(3);
    expect(acceptsGbnf(gbnf, '😀😂🙂')).toBe(true);
    expect(acceptsGbnf(gbnf, '😀\ud83d\ude02b')).toBe(true);
    expect(acceptsGbnf(gbnf, '😀😂')).toBe(false);
    expect(acceptsGbnf(gbnf, '😀\ud83dx')).toBe(false);
  });

  it('samples `.` as any single character', () => {
    const gbnf = 'root ::= "<" . ">"';
    const drawn = expectSamplesMatch(gbnf, /^<.>$/su);
    expect(new Set(drawn).size).toBeGreaterThan(20);
    expect(acceptsGbnf(gbnf, '<😀>')).toBe(true);
    expect(acceptsGbnf(gbnf, '<>')).toBe(false);
    expect(acceptsGbnf(gbnf, '<ab>')).toBe(false);
  });

  it('samples groups and alternation, empty alternatives included', () => {
    const gbnf = 'root ::= ("ab" | "c" | ) ("d" | "ef") | "z"';
    const drawn = expectSamplesMatch(gbnf, /^(?:(?:ab|c|)(?:d|ef)|z)$/);
    expect(new Set(drawn)).toEqual(new Set(['abd', 'abef', 'cd', 'cef', 'd', 'ef', 'z']));
    expect(acceptsGbnf(gbnf, 'abz')).toBe(false);
    expect(acceptsGbnf(gbnf, '')).toBe(false);
  });

  it('samples every quantifier within its bounds, the bounds included', () => {
    const gbnf = 'root ::= "a"* "b"+ "c"? "d"{2} "e"{1,} "f"{1,3} "g"{0,2} ("h" "i"){0,1} "j"{ 2 , 3 }';
    const drawn = expectSamplesMatch(gbnf, /^a*b+c?d{2}e+f{1,3}g{0,2}(?:hi)?j{2,3}$/);
    const counts = (ch: string): Set<number> => new Set(drawn.map((t) => t.split(ch).length - 1));
    expect(counts('f')).toEqual(new Set([1, 2, 3]));
    expect(counts('g')).toEqual(new Set([0, 1, 2]));
    expect(counts('j')).toEqual(new Set([2, 3]));
    expect(Math.min(...counts('a'))).toBe(0);
    expect(Math.max(...counts('a'))).toBeLessThanOrEqual(5);
    expect(acceptsGbnf(gbnf, 'bddefjj')).toBe(true);
    expect(acceptsGbnf(gbnf, 'aaabbcddeeefffgghijjj')).toBe(true);
    expect(acceptsGbnf(gbnf, 'ddefjj')).toBe(false); // no b
    expect(acceptsGbnf(gbnf, 'bdefjj')).toBe(false); // one d
    expect(acceptsGbnf(gbnf, 'bddeffffjj')).toBe(false); // four f
    expect(acceptsGbnf(gbnf, 'bddefgggjj')).toBe(false); // three g
    expect(acceptsGbnf(gbnf, 'bddefhjj')).toBe(false); // h without i
    expect(acceptsGbnf(gbnf, 'bddefjjjj')).toBe(false); // four j
  });

  it('repeats nested quantifiers and items that can be empty', () => {
    const gbnf = 'root ::= ("x"? "y"?){2,3} "z"{2}{2} ("q"*)*';
    expectSamplesMatch(gbnf, /^(?:x?y?){2,3}z{4}q*$/);
    expect(acceptsGbnf(gbnf, 'zzzz')).toBe(true);
    expect(acceptsGbnf(gbnf, 'xyxyxyzzzzqqq')).toBe(true);
    expect(acceptsGbnf(gbnf, 'xyxyxyxyzzzz')).toBe(false);
    expect(acceptsGbnf(gbnf, 'zzz')).toBe(false);
  });

  it('follows rule references', () => {
    const gbnf = 'root ::= greeting ", " name\ngreeting ::= "hi" | "hello"\nname ::= [A-Z] [a-z]{1,4}';
    expectSamplesMatch(gbnf, /^(?:hi|hello), [A-Z][a-z]{1,4}$/);
    expect(acceptsGbnf(gbnf, 'hello, Ann')).toBe(true);
    expect(acceptsGbnf(gbnf, 'hey, Ann')).toBe(false);
    expect(acceptsGbnf(gbnf, 'hi, ann')).toBe(false);
  });

  it('reads multi-line rules and comments where llama.cpp allows them', () => {
    const gbnf = [
      '# leading comment',
      '',
      'root ::=   # a comment right after ::=',
      '  item (',
      '    "," # inside parentheses newlines are free',
      '    item',
      '  )* |',
      '  "none"   # after | the rule continues',
      '\t',
      'item ::= "a"',
      '  | "b"',
      '',
    ].join('\n');
    // llama.cpp ends a rule at a newline outside parentheses, so "| "b"" on its own line is a syntax error.
    expect(() => parseGbnf(gbnf)).toThrow(GbnfError);
    const fixed = gbnf.replace('item ::= "a"\n  | "b"', 'item ::= "a" |\n  "b"');
    expectSamplesMatch(fixed, /^(?:[ab](?:,[ab])*|none)$/);
    expect(acceptsGbnf(fixed, 'a,b,a')).toBe(true);
    expect(acceptsGbnf(fixed, 'none')).toBe(true);
    expect(acceptsGbnf(fixed, 'a,')).toBe(false);
    expect(acceptsGbnf(fixed.replace(/\n/g, '\r\n'), 'b,a')).toBe(true);
  });

  it('terminates on recursive grammars, even when the random source always says "more"', () => {
    const gbnf = 'root ::= arr\narr ::= "[" ( arr ( "," arr )* )? "]"';
    for (const text of samples(gbnf)) {
      expect(acceptsGbnf(gbnf, text)).toBe(true);
      expect(Array.isArray(JSON.parse(text))).toBe(true);
    }
    const greedy = sampleGbnf(gbnf, () => 0.999999, { maxDepth: 6 });
    expect(acceptsGbnf(gbnf, greedy)).toBe(true);
    expect(JSON.parse(greedy)).toEqual(expect.any(Array));
    const long = sampleGbnf(gbnf, () => 0.999999, { maxDepth: 1000, maxLength: 300 });
    expect(acceptsGbnf(gbnf, long)).toBe(true);
    expect(long.length).toBeLessThan(2000);
    expect(acceptsGbnf(gbnf, '[[],[[]]]')).toBe(true);
    expect(acceptsGbnf(gbnf, '[[],[[]]')).toBe(false);
    expect(acceptsGbnf(gbnf, '[,]')).toBe(false);
  });

  it('samples a realistic JSON grammar whose every sample JSON.parse accepts', () => {
    const drawn = samples(JSON_GRAMMAR, 200, 7);
    for (const text of drawn) {
      expect(acceptsGbnf(JSON_GRAMMAR, text)).toBe(true);
      expect(() => JSON.parse(text)).not.toThrow();
    }
    const kinds = new Set(drawn.map((t) => {
      const v: unknown = JSON.parse(t);
      return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
    }));
    expect(kinds).toEqual(new Set(['object', 'array', 'string', 'number', 'boolean', 'null']));
    expect(drawn.some((t) => /\\u[0-9a-fA-F]{4}/.test(t))).toBe(true);
    expect(drawn.some((t) => /\[\s*\[/.test(t))).toBe(true);
  });

  it('recognizes real JSON and rejects broken JSON', () => {
    const good = ['{"a": [1, -2.5e+10, true, false, null], "b\\u00e9\\n": {"c": "😀"}}', '[]', ' 0 ', '"x"'];
    for (const text of good) expect(acceptsGbnf(JSON_GRAMMAR, text)).toBe(true);
    const bad = ['{"a": 1,}', '[1 2]', '01', '"\\x"', '"a\nb"', '{a: 1}', 'tru', '[1]]', '1.', ''];
    for (const text of bad) expect({ text, accepted: acceptsGbnf(JSON_GRAMMAR, text) }).toEqual({ text, accepted: false });
  });

  it('decides texts of a few hundred characters against hundreds of rules quickly', () => {
    const rules = ['root ::= r0'];
    for (let i = 0; i < 300; i++) rules.push(`r${i} ::= "k${i % 10}" ws ( ${i < 299 ? `r${i + 1}` : '"end"'} | [a-z]+ )`);
    rules.push('ws ::= [ ]*');
    const chain = rules.join('\n');
    const text = `${Array.from({ length: 120 }, (_, i) => `k${i % 10} `).join('')}zzz`;
    const doc = JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `n${i}`, ok: i % 2 === 0 })) });
    parseGbnf(chain);
    const started = performance.now();
    expect(acceptsGbnf(chain, text)).toBe(true);
    expect(acceptsGbnf(chain, `${text}1`)).toBe(false);
    expect(acceptsGbnf(JSON_GRAMMAR, doc)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses what llama.cpp refuses', () => {
    const refused = [
      'item ::= "a"', // no root
      'root ::= item', // undefined rule
      'root ::= "a" root | "b"\nroot ::= "c"', // defined twice
      'root ::= root "a" | "b"', // left recursion
      'root ::= x "a"\nx ::= "" | root', // left recursion through an empty prefix
      'root ::= "\\q"', // unknown escape
      'root ::= "\\x4"', // short hex escape
      'root ::= ("a"', // unclosed group
      'root ::= "a\n', // unclosed literal
      'root ::= [a', // unclosed class
      'root ::= * "a"', // quantifier without an item
      'root ::= ""*', // quantifier after an empty literal
      'root ::= "a"{3,1}', // maximum below minimum
      'root ::= "a"{2001}', // too many repetitions
      'root ::= "a"{0,2000}', // as many optional rules as llama.cpp's threshold
      'root ::= ("a"{0,100}){0,30}', // nested repetitions that multiply past it
      'root ::= "a"\n  "b"', // a new line outside parentheses ends the rule
      'root ::= <think>', // tokens need a vocabulary
      'root ::= "a" ]', // stray character
      'ro_ot ::= "a"', // `_` is not a name character
    ];
    for (const gbnf of refused) expect(() => parseGbnf(gbnf)).toThrow(GbnfError);
    expect(() => parseGbnf('root ::= ("a"')).toThrow(/line 1/);
    // Like llama.cpp, a maximum above 2000 means no maximum.
    expect(acceptsGbnf('root ::= "a"{0,3000}', 'a'.repeat(3500))).toBe(true);
  });

  it('refuses to sample a root that can never finish', () => {
    expect(() => sampleGbnf('root ::= "a" root', Math.random)).toThrow(GbnfError);
    expect(acceptsGbnf('root ::= "a" root', 'aaa')).toBe(false);
  });

  it('never chooses an alternative that cannot finish', () => {
    const gbnf = 'root ::= loop | "ok" | [b-a]\nloop ::= "x" loop';
    expect(new Set(samples(gbnf, 50))).toEqual(new Set(['ok']));
  });

  const bundled = join(__dirname, '../../../../node_modules/node-llama-cpp/llama/grammars');
  (existsSync(bundled) ? it : it.skip)("samples and recognizes llama.cpp's own example grammars", () => {
    const files = readdirSync(bundled).filter((f) => f.endsWith('.gbnf'));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const gbnf = readFileSync(join(bundled, file), 'utf8');
      const random = mulberry32(file.length);
      for (let i = 0; i < 30; i++) {
        const text = sampleGbnf(gbnf, random, { maxLength: 300 });
        expect({ file, text, accepted: acceptsGbnf(gbnf, text) }).toEqual({ file, text, accepted: true });
        if (file.startsWith('json')) expect(() => JSON.parse(text)).not.toThrow();
      }
    }
  });
});
