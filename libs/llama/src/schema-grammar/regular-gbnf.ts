/**
 * Test support for the specs of pattern.ts and formats.ts: a reader for the regular GBNF subset those
 * grammars use (literals, classes, groups, alternation, postfix repetition, non-recursive rule
 * references). It turns the emitted text into a JS RegExp and samples strings from it, so every check
 * goes through the grammar text itself, independently of gbnf-sampler.ts's recognizer.
 */
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
export function rng(seed: number): () => number {
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
export function load(grammar: string): { re: RegExp; sample: (rand: () => number) => string } {
  const rules = parseGbnf(grammar);
  const root = rules.get('root')!;
  return { re: new RegExp(`^(?:${toRegex(rules, root)})$`, 'u'), sample: (rand) => sample(rules, root, rand) };
}
