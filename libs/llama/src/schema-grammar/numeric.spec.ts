import { integerGrammar, numberGrammar, type NumericBounds } from './numeric';
import { RuleSet, UnsupportedSchema } from './rules';

// A recognizer for the GBNF subset numeric.ts emits (literals, classes, groups, alternation,
// quantifiers, references to rules), kept here so these tests do not depend on gbnf-sampler.ts. It
// works on sets of positions with references memoized per start, so the divisibility automata (rules
// that share sub-rules many times over) stay linear where a RegExp expansion would not.

type Node =
  | { t: 'lit'; s: string }
  | { t: 'cls'; re: RegExp }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; items: Node[] }
  | { t: 'rep'; item: Node; min: number; max: number }
  | { t: 'ref'; name: string };

function parseBody(body: string): Node {
  let i = 0;
  const ws = () => {
    while (i < body.length && body[i] === ' ') i++;
  };
  const alt = (): Node => {
    const items = [seq()];
    while ((ws(), body[i] === '|')) {
      i++;
      items.push(seq());
    }
    return items.length === 1 ? items[0] : { t: 'alt', items };
  };
  const seq = (): Node => {
    const items: Node[] = [];
    for (;;) {
      ws();
      if (i >= body.length || body[i] === '|' || body[i] === ')') break;
      items.push(postfix(primary()));
    }
    if (items.length === 0) throw new Error(`empty alternative at ${i} in ${body}`);
    return items.length === 1 ? items[0] : { t: 'seq', items };
  };
  const postfix = (node: Node): Node => {
    for (;;) {
      const c = body[i];
      if (c === '?') node = { t: 'rep', item: node, min: 0, max: 1 };
      else if (c === '*') node = { t: 'rep', item: node, min: 0, max: Infinity };
      else if (c === '+') node = { t: 'rep', item: node, min: 1, max: Infinity };
      else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(body.slice(i));
        if (!m) throw new Error(`bad repetition at ${i} in ${body}`);
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (max < min) throw new Error(`bad repetition ${m[0]}`);
        node = { t: 'rep', item: node, min, max };
        i += m[0].length - 1;
      } else return node;
      i++;
    }
  };
  const primary = (): Node => {
    const c = body[i];
    if (c === '"') {
      let s = '';
      i++;
      while (body[i] !== '"') {
        if (i >= body.length) throw new Error(`unterminated literal in ${body}`);
        if (body[i] === '\\') {
          const e = body[i + 1];
          if (e === 'x') {
            s += String.fromCharCode(parseInt(body.slice(i + 2, i + 4), 16));
            i += 4;
            continue;
          }
          s += ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e] ?? e;
          i += 2;
        } else s += body[i++];
      }
      i++;
      return { t: 'lit', s };
    }
    if (c === '[') {
      const end = body.indexOf(']', i + 2);
      if (end < 0) throw new Error(`unterminated class in ${body}`);
      const cls = body.slice(i, end + 1);
      i = end + 1;
      return { t: 'cls', re: new RegExp(`^${cls}$`) };
    }
    if (c === '(') {
      i++;
      const inner = alt();
      ws();
      if (body[i] !== ')') throw new Error(`missing ) at ${i} in ${body}`);
      i++;
      return inner;
    }
    const m = /^[a-z0-9-]+/.exec(body.slice(i));
    if (!m) throw new Error(`unexpected '${c}' at ${i} in ${body}`);
    i += m[0].length;
    return { t: 'ref', name: m[0] };
  };
  const node = alt();
  ws();
  if (i !== body.length) throw new Error(`trailing input at ${i} in ${body}`);
  return node;
}

function refs(node: Node, out: string[] = []): string[] {
  if (node.t === 'ref') out.push(node.name);
  else if (node.t === 'seq' || node.t === 'alt') node.items.forEach((n) => refs(n, out));
  else if (node.t === 'rep') refs(node.item, out);
  return out;
}

class Recognizer {
  private readonly rules = new Map<string, Node>();

  constructor(readonly gbnf: string) {
    for (const line of gbnf.split('\n').filter(Boolean)) {
      const m = /^([a-z0-9-]+) ::= (.*)$/.exec(line);
      if (!m) throw new Error(`bad rule line: ${line}`);
      if (this.rules.has(m[1])) throw new Error(`rule ${m[1]} defined twice`);
      this.rules.set(m[1], parseBody(m[2]));
    }
    if (!this.rules.has('root')) throw new Error('no root rule');
    for (const [name, node] of this.rules) {
      for (const ref of refs(node)) if (!this.rules.has(ref)) throw new Error(`${name} refers to undefined ${ref}`);
    }
    this.checkAcyclic('root', [], new Set());
  }

  get ruleCount(): number {
    return this.rules.size - 1;
  }

  accepts(text: string): boolean {
    const memo = new Map<string, Set<number>>();
    return this.match(this.rules.get('root')!, text, 0, memo).has(text.length);
  }

  private checkAcyclic(name: string, stack: string[], done: Set<string>): void {
    if (stack.includes(name)) throw new Error(`recursive rule ${[...stack, name].join(' -> ')}`);
    if (done.has(name)) return;
    for (const ref of refs(this.rules.get(name)!)) this.checkAcyclic(ref, [...stack, name], done);
    done.add(name);
  }

  private match(node: Node, text: string, at: number, memo: Map<string, Set<number>>): Set<number> {
    switch (node.t) {
      case 'lit':
        return text.startsWith(node.s, at) ? new Set([at + node.s.length]) : new Set();
      case 'cls':
        return at < text.length && node.re.test(text[at]) ? new Set([at + 1]) : new Set();
      case 'seq': {
        let ends = new Set([at]);
        for (const item of node.items) {
          const next = new Set<number>();
          for (const p of ends) for (const e of this.match(item, text, p, memo)) next.add(e);
          ends = next;
          if (ends.size === 0) break;
        }
        return ends;
      }
      case 'alt': {
        const ends = new Set<number>();
        for (const item of node.items) for (const e of this.match(item, text, at, memo)) ends.add(e);
        return ends;
      }
      case 'rep': {
        const ends = new Set<number>(node.min === 0 ? [at] : []);
        let frontier = new Set([at]);
        for (let k = 1; k <= node.max && frontier.size > 0; k++) {
          const next = new Set<number>();
          for (const p of frontier) for (const e of this.match(node.item, text, p, memo)) if (e > p) next.add(e);
          frontier = next;
          if (k >= node.min) for (const e of next) ends.add(e);
          if (k > text.length) break;
        }
        return ends;
      }
      case 'ref': {
        const key = `${node.name}@${at}`;
        let ends = memo.get(key);
        if (!ends) {
          ends = this.match(this.rules.get(node.name)!, text, at, memo);
          memo.set(key, ends);
        }
        return ends;
      }
    }
  }
}

function compile(kind: 'integer' | 'number', bounds: NumericBounds): Recognizer {
  const rules = new RuleSet();
  const expr = (kind === 'integer' ? integerGrammar : numberGrammar)(rules, bounds, '/properties/x');
  return new Recognizer(rules.grammar(expr));
}

/** What a validator decides, on the parsed double (draft-4 booleans included). */
function satisfies(x: number, b: NumericBounds): boolean {
  if (b.minimum !== undefined && (b.exclusiveMinimum === true ? !(x > b.minimum) : !(x >= b.minimum))) return false;
  if (b.maximum !== undefined && (b.exclusiveMaximum === true ? !(x < b.maximum) : !(x <= b.maximum))) return false;
  if (typeof b.exclusiveMinimum === 'number' && !(x > b.exclusiveMinimum)) return false;
  if (typeof b.exclusiveMaximum === 'number' && !(x < b.exclusiveMaximum)) return false;
  if (b.multipleOf !== undefined && x / b.multipleOf !== Math.trunc(x / b.multipleOf)) return false;
  return true;
}

function finiteBounds(b: NumericBounds): number[] {
  return [b.minimum, b.maximum, b.exclusiveMinimum, b.exclusiveMaximum].filter((v): v is number => typeof v === 'number');
}

/** Every integer within `pad` of each finite bound (or of 0 when there is none). */
function integerWindow(b: NumericBounds, pad = 1200): bigint[] {
  const centres = finiteBounds(b);
  const out = new Set<bigint>();
  for (const c of centres.length ? centres : [0]) {
    const mid = BigInt(Math.round(c));
    for (let k = -pad; k <= pad; k++) out.add(mid + BigInt(k));
  }
  return [...out];
}

const MALFORMED_INTEGERS = ['', '-', '+1', '-0', '00', '01', '-01', '1.0', '1e2', ' 1', '1 ', '0x1', '1-'];

function expectIntegers(b: NumericBounds, extra: bigint[] = []): Recognizer {
  const g = compile('integer', b);
  const wrong: string[] = [];
  for (const n of [...integerWindow(b), ...extra]) {
    const text = n.toString();
    if (g.accepts(text) !== satisfies(Number(text), b)) wrong.push(text);
  }
  for (const text of MALFORMED_INTEGERS) if (g.accepts(text)) wrong.push(JSON.stringify(text));
  expect(wrong.slice(0, 20)).toEqual([]);
  return g;
}

describe('integerGrammar', () => {
  const cases: NumericBounds[] = [
    {},
    { minimum: 0 },
    { maximum: 0 },
    { minimum: 1 },
    { minimum: -37 },
    { maximum: 12345 },
    { exclusiveMaximum: -1000 },
    { exclusiveMinimum: 0 },
    { minimum: 0, maximum: 1000000 },
    { minimum: -5, maximum: 5 },
    { minimum: -5, maximum: 7 },
    { minimum: -700, maximum: 5 },
    { minimum: 17, maximum: 4321 },
    { minimum: -4321, maximum: -17 },
    { minimum: 99, maximum: 1001 },
    { minimum: 100, maximum: 999 },
    { minimum: 101, maximum: 998 },
    { minimum: 999999999, maximum: 1000000001 },
    { exclusiveMinimum: 0, exclusiveMaximum: 100 },
    { exclusiveMinimum: -100, exclusiveMaximum: 0 },
    { minimum: 1.5, maximum: 99.5 },
    { minimum: -1.5, maximum: -0.5 },
    { exclusiveMinimum: 2.5, exclusiveMaximum: 3.5 },
    { minimum: 7, maximum: 7 },
    { minimum: -7, maximum: -7 },
    { minimum: 0, maximum: 0 },
    { minimum: 1e12, maximum: 1e12 + 2500 },
    { minimum: -1e12 - 1000, maximum: -1e12 + 5 },
    { minimum: 1e12 },
    { maximum: -1e12 },
    { minimum: 5, exclusiveMinimum: true },
    { maximum: 10, exclusiveMaximum: true },
    { minimum: 5, exclusiveMinimum: false, maximum: 10, exclusiveMaximum: false },
    { minimum: 5, exclusiveMinimum: true, maximum: 10, exclusiveMaximum: true },
    { exclusiveMinimum: true },
    { minimum: 3, exclusiveMinimum: 5, maximum: 100, exclusiveMaximum: 50 },
  ];
  it.each(cases.map((b) => [JSON.stringify(b), b] as const))('accepts exactly the integers in %s', (_, b) => {
    const inside = finiteBounds(b).length === 2 ? [] : [10n ** 14n + 7n, -(10n ** 14n) - 7n, 999999999999999n, -999999999999999n];
    expectIntegers(b, inside);
  });

  it('keeps ranges compact', () => {
    const g = compile('integer', { minimum: 0, maximum: 1000000 });
    expect(g.ruleCount).toBe(1);
    expect(g.gbnf).toMatch(/^root ::= ([a-z0-9-]+)\n\1 ::= "0" \| "1000000" \| \[1-9\] \[0-9\]\{0,5\}\n$/);
    expect(compile('integer', { minimum: 17, maximum: 4321 }).ruleCount).toBeLessThanOrEqual(6);
    expect(compile('integer', { minimum: -123456789, maximum: 987654321 }).ruleCount).toBeLessThanOrEqual(24);
  });

  it('stops open ends at 15 digits (no run of digits to Infinity)', () => {
    const g = compile('integer', { minimum: 0 });
    expect(g.accepts('999999999999999')).toBe(true);
    expect(g.accepts('1000000000000000')).toBe(false);
    const big = compile('integer', { minimum: 1e20 });
    expect(big.accepts('100000000000000000000')).toBe(true);
    expect(big.accepts('999999999999999999999')).toBe(true);
    expect(big.accepts('99999999999999999999')).toBe(false);
  });

  it('never admits a text that rounds onto an excluded bound', () => {
    const e = 2 ** 60;
    const g = compile('integer', { exclusiveMinimum: e, exclusiveMaximum: e + 4096 });
    const base = BigInt(e);
    let accepted = 0;
    for (let k = -3000n; k <= 7000n; k++) {
      const text = (base + k).toString();
      if (!g.accepts(text)) continue;
      accepted++;
      expect(satisfies(Number(text), { exclusiveMinimum: e, exclusiveMaximum: e + 4096 })).toBe(true);
    }
    expect(accepted).toBeGreaterThan(3000);
    expect(g.accepts((base + 1n).toString())).toBe(false); // parses to 2^60 itself
    expect(g.accepts((base + 256n).toString())).toBe(true); // the next double
    // int64's maximum, 9223372036854775807, as a schema's JSON parses to the double 2^63
    const int64 = compile('integer', { minimum: 0, maximum: 2 ** 63 });
    expect(int64.accepts('9223372036854775807')).toBe(true);
    // the bound is the double 2^63, whose shortest form is 9223372036854776000: texts up to that
    // parse to at most 2^63, and the next one that parses past it is rejected
    expect(int64.accepts('9223372036854776000')).toBe(true);
    expect(int64.accepts('9223372036854777000')).toBe(false);
    expect(Number('9223372036854777000') > 2 ** 63).toBe(true);
  });

  it('refuses empty ranges with the minimum keyword', () => {
    for (const b of [
      { minimum: 5, maximum: 4 },
      { exclusiveMinimum: 3, exclusiveMaximum: 4 },
      { minimum: 1.2, maximum: 1.8 },
      { minimum: 4, exclusiveMinimum: true, maximum: 4 },
    ]) {
      expect(() => compile('integer', b)).toThrow(UnsupportedSchema);
      try {
        compile('integer', b);
      } catch (err) {
        expect(err).toMatchObject({ keyword: 'minimum', path: '/properties/x' });
        expect((err as Error).message).toContain('no number satisfies the bounds');
      }
    }
  });

  it('refuses bounds that are not finite numbers', () => {
    expect(() => compile('integer', { minimum: NaN })).toThrow(/'minimum'/);
    expect(() => compile('integer', { maximum: Infinity })).toThrow(/'maximum'/);
  });
});

describe('integerGrammar with multipleOf', () => {
  const cases: NumericBounds[] = [
    { multipleOf: 1, minimum: -3, maximum: 3 },
    { multipleOf: 7 },
    { multipleOf: 12 },
    { multipleOf: 10 },
    { multipleOf: 3, minimum: 10, maximum: 100 },
    { multipleOf: 5, minimum: 0 },
    { multipleOf: 2, exclusiveMaximum: 0 },
    { multipleOf: 12, minimum: -1000, maximum: 50000 },
    { multipleOf: 37, minimum: -5000, maximum: 5000 },
    { multipleOf: 1000003, minimum: 0, maximum: 1e8 },
    { multipleOf: 250, minimum: -999, maximum: 999 },
    { multipleOf: 9, minimum: 1e12, maximum: 1e12 + 3000 },
  ];
  it.each(cases.map((b) => [JSON.stringify(b), b] as const))('accepts exactly the multiples in %s', (_, b) => {
    const m = BigInt(b.multipleOf!);
    // random 15-digit values and multiples of them, in the open ranges
    const extra: bigint[] = [];
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let i = 0; i < 200; i++) {
      const v = BigInt(rand()) * 100000000n + BigInt(rand() % 100000000);
      extra.push(v, -v, (v / m) * m, -(v / m) * m);
    }
    const g = compile('integer', b);
    const wrong: string[] = [];
    for (const n of [...integerWindow(b), ...extra]) {
      const text = n.toString();
      const expected = satisfies(Number(text), b) && n % m === 0n && text.replace('-', '').length <= 15;
      if (g.accepts(text) !== expected) wrong.push(text);
    }
    for (const text of MALFORMED_INTEGERS) if (g.accepts(text)) wrong.push(JSON.stringify(text));
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(g.ruleCount).toBeLessThanOrEqual(700);
  });

  it('refuses what it cannot enforce exactly', () => {
    expect(() => compile('integer', { multipleOf: 0.5 })).toThrow(/'multipleOf'.*integer multipleOf/);
    expect(() => compile('integer', { multipleOf: 1000003 })).toThrow(/'multipleOf'.*grammar rules/);
    expect(() => compile('integer', { multipleOf: 4, minimum: 1, maximum: 3 })).toThrow(/'multipleOf'.*no multiple/);
    expect(() => compile('integer', { multipleOf: -2 })).toThrow(/'multipleOf'.*positive/);
    expect(() => compile('integer', { multipleOf: 0 })).toThrow(/'multipleOf'/);
  });
});

/** An exact decimal string for `units` * 10^-scale. */
function decimal(units: bigint, scale: number): string {
  const neg = units < 0n;
  const digits = (neg ? -units : units).toString().padStart(scale + 1, '0');
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return neg ? `-${text}` : text;
}

/** b's shortest decimal form in units of 10^-scale (b has at most `scale` decimals here). */
function units(b: number, scale: number): bigint {
  const [whole, frac = ''] = String(b).split('.');
  const sign = whole.startsWith('-') ? -1n : 1n;
  return sign * BigInt(whole.replace('-', '') + frac.slice(0, scale).padEnd(scale, '0'));
}

const WELL_FORMED = /^-?(0|[1-9][0-9]*)(\.[0-9]{1,15})?$/;
const MALFORMED_NUMBERS = ['', '-', '+1', '1.', '.5', '01.5', '00', '-00', '0.', '1.5.5', '1e3', '1.5E-2', ' 1', '1 ', '--1'];

function numberCandidates(b: NumericBounds): string[] {
  const out = new Set<string>();
  const centres = finiteBounds(b);
  for (const c of centres.length ? centres : [0]) {
    for (let d = 0; d <= 4; d++) {
      const base = units(c, d);
      for (let k = -25n; k <= 25n; k++) {
        const text = decimal(base + k, d);
        out.add(text);
        if (d) out.add(`${text}0`);
        if (d) out.add(`${text}00000`);
      }
    }
  }
  const [lo, hi] = centres.length ? [Math.min(...centres) - 3, Math.max(...centres) + 3] : [-50, 50];
  let seed = 99;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 1500; i++) out.add((lo + (hi - lo) * rand()).toFixed(Math.floor(rand() * 9)));
  return [...out];
}

/** '-0' / '-0.0' are JSON for 0: accepted where 0 is (and the range reaches below it). */
function numberExpected(text: string, b: NumericBounds): boolean {
  if (!WELL_FORMED.test(text)) return false;
  if (/^-0(\.0*)?$/.test(text)) return satisfies(0, b) && satisfies(-1e-15, b);
  return satisfies(Number(text), b);
}

describe('numberGrammar', () => {
  const cases: NumericBounds[] = [
    { exclusiveMinimum: 0, maximum: 1 },
    { minimum: 0, maximum: 1 },
    { minimum: 0 },
    { exclusiveMinimum: 0 },
    { maximum: -2.5 },
    { exclusiveMaximum: 0 },
    { minimum: -1.5, maximum: 2.25 },
    { minimum: 0.1, exclusiveMaximum: 0.3 },
    { minimum: -100.125, exclusiveMaximum: -3.5 },
    { exclusiveMinimum: -0.001, exclusiveMaximum: 0.001 },
    { minimum: -0.5, maximum: -0.25 },
    { minimum: 3.14159, maximum: 3.14159 },
    { minimum: 1, maximum: 1 },
    { minimum: 0.000123, maximum: 1234.5678 },
    { minimum: 9.99, maximum: 10.01 },
    { minimum: 99.5, exclusiveMaximum: 1000 },
    { minimum: 1e12, maximum: 1e12 + 0.5 },
    { minimum: -1e12 - 0.25 },
    { minimum: 5, exclusiveMinimum: true, maximum: 10 },
    { minimum: -10, maximum: -5, exclusiveMaximum: true },
    { minimum: -3, exclusiveMinimum: -2.75, maximum: 8, exclusiveMaximum: 7.5 },
  ];
  it.each(cases.map((b) => [JSON.stringify(b), b] as const))('accepts exactly the numbers in %s', (_, b) => {
    const g = compile('number', b);
    const wrong: string[] = [];
    for (const text of numberCandidates(b)) if (g.accepts(text) !== numberExpected(text, b)) wrong.push(text);
    for (const text of MALFORMED_NUMBERS) if (g.accepts(text)) wrong.push(JSON.stringify(text));
    expect(wrong.slice(0, 20)).toEqual([]);
  });

  it('handles 0 < x <= 1 as the brief says', () => {
    const g = compile('number', { exclusiveMinimum: 0, maximum: 1 });
    for (const ok of ['0.5', '1', '1.0', '0.001', '0.000000000000001', '0.999999999999999', '1.000000000000000']) {
      expect([ok, g.accepts(ok)]).toEqual([ok, true]);
    }
    for (const bad of ['0', '0.0', '1.5', '0.0000000000000001', '1.000000000000001', '-0.5', '2']) {
      expect([bad, g.accepts(bad)]).toEqual([bad, false]);
    }
  });

  it('limits fractions to 15 digits and open ends to 15 integer digits', () => {
    const g = compile('number', { minimum: 0 });
    expect(g.accepts(`0.${'1'.repeat(15)}`)).toBe(true);
    expect(g.accepts(`0.${'1'.repeat(16)}`)).toBe(false);
    expect(g.accepts('999999999999999.5')).toBe(true);
    expect(g.accepts('1000000000000000')).toBe(false);
  });

  it('never admits a text that parses onto an exclusive bound', () => {
    for (const e of [0, 0.1, 1, 16, 1000, 123.456, -5, -0.3, 1e12, 2 ** 60]) {
      const g = compile('number', { exclusiveMinimum: e });
      const h = compile('number', { exclusiveMaximum: e });
      let accepted = 0;
      for (const scale of [0, 1, 2, 3, 4, 6, 9, 12, 13, 14, 15]) {
        const base = units(e, scale);
        for (let k = -300n; k <= 300n; k++) {
          const text = decimal(base + k, scale);
          if (g.accepts(text)) {
            accepted++;
            expect([text, Number(text) > e]).toEqual([text, true]);
          }
          if (h.accepts(text)) {
            accepted++;
            expect([text, Number(text) < e]).toEqual([text, true]);
          }
        }
      }
      expect(accepted).toBeGreaterThan(0);
    }
  });

  it('accepts any JSON number when unbounded, exponents included', () => {
    const g = compile('number', {});
    for (const ok of ['0', '-0', '12', '-3.25', '1e5', '1.5E-7', '-2e+10', '0.000000000000001']) expect([ok, g.accepts(ok)]).toEqual([ok, true]);
    for (const bad of ['01', '1.', '.5', '+1', '1e', '1e+', 'NaN', '']) expect([bad, g.accepts(bad)]).toEqual([bad, false]);
  });

  it('turns an integer multipleOf into integers that are multiples', () => {
    const b = { multipleOf: 3, minimum: 0.5, maximum: 10 };
    const g = compile('number', b);
    const accepted = numberCandidates(b).filter((t) => g.accepts(t));
    expect(accepted.sort()).toEqual(['3', '6', '9']);
    const all = compile('number', { multipleOf: 1, exclusiveMinimum: -2, exclusiveMaximum: 2 });
    expect(['-1', '0', '1', '0.5', '1.0', '2'].map((t) => all.accepts(t))).toEqual([true, true, true, false, false, false]);
  });

  it('refuses fractional multipleOf, empty ranges and bad bounds', () => {
    // Ajv tests x / m in floating point: 0.3 / 0.1 is 2.9999999999999996
    expect(() => compile('number', { multipleOf: 0.1 })).toThrow(/'multipleOf'.*floating-point/);
    expect(() => compile('number', { multipleOf: 0.01, minimum: 0 })).toThrow(/'multipleOf'/);
    expect(() => compile('number', { multipleOf: 2.5 })).toThrow(/'multipleOf'/);
    expect(() => compile('number', { multipleOf: -1 })).toThrow(/'multipleOf'.*positive/);
    expect(() => compile('number', { exclusiveMinimum: 1, exclusiveMaximum: 1 })).toThrow(/'minimum'.*no number satisfies/);
    expect(() => compile('number', { minimum: 2, maximum: 1.5 })).toThrow(/'minimum'.*no number satisfies/);
    expect(() => compile('number', { exclusiveMinimum: NaN })).toThrow(/'exclusiveMinimum'/);
  });
});
