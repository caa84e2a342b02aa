/**
 * JSON Schema `pattern` to GBNF: the contents of a JSON string (the text between its quotes) whose
 * decoded value matches an ECMAScript regular expression the way ajv tests it (`new RegExp(p, 'u')`,
 * an unanchored search). Only the regular subset is accepted (no lookaround, no backreferences), so
 * the grammar needs no recursion at all; anything else is refused rather than loosely approximated.
 */
import { RuleSet, UnsupportedSchema, gbnfLiteral } from './rules';

/** Sorted, disjoint, non-adjacent inclusive code-point intervals. */
type Ranges = readonly (readonly [number, number])[];

type Node =
  | { readonly t: 'set'; readonly set: Ranges }
  | { readonly t: 'seq'; readonly items: readonly Node[] }
  | { readonly t: 'alt'; readonly options: readonly Node[] }
  | { readonly t: 'rep'; readonly node: Node; readonly min: number; readonly max: number }
  | { readonly t: 'bol' }
  | { readonly t: 'eol' };

/** A GBNF expression and whether a postfix operator may follow it without parentheses. */
interface Expr {
  readonly text: string;
  readonly atomic: boolean;
}

const MAX_CODE_POINT = 0x10ffff;
/** Expanded size (after unrolling counted repetitions) beyond which the grammar would be unwieldy. */
const MAX_EXPANDED = 100_000;
const EMPTY: Expr = { text: '""', atomic: true };
const EMPTY_SEQ: Node = { t: 'seq', items: [] };

function normalize(ranges: Iterable<readonly [number, number]>): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(set: Ranges): Ranges {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of set) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

const union = (...sets: Ranges[]): Ranges => normalize(sets.flat());
const intersect = (a: Ranges, b: Ranges): Ranges => complement(union(complement(a), complement(b)));
const single = (cp: number): Ranges => [[cp, cp]];
const has = (set: Ranges, cp: number): boolean => set.some(([lo, hi]) => lo <= cp && cp <= hi);

// ECMAScript's classes (without the `i` flag, whose case folding is not supported).
const DIGIT: Ranges = [[0x30, 0x39]];
const WORD: Ranges = normalize([[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]]);
const SPACE: Ranges = normalize([
  [0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a],
  [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff],
]);
const ANY: Ranges = [[0, MAX_CODE_POINT]];
/** `.` without the `s` flag: anything but a line terminator. */
const DOT: Ranges = complement(normalize([[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]]));
/** Characters a JSON string holds as themselves; the rest must be escaped. */
const JSON_PLAIN: Ranges = complement(normalize([[0x00, 0x1f], [0x22, 0x22], [0x5c, 0x5c]]));
/** JSON's two-character escapes (besides \" and \\), as JSON.stringify writes them. */
const SHORT_ESCAPES: ReadonlyMap<number, string> = new Map([[0x08, 'b'], [0x09, 't'], [0x0a, 'n'], [0x0c, 'f'], [0x0d, 'r']]);

const hex = (cp: number, width: number): string => cp.toString(16).padStart(width, '0');

/** One character as JSON text inside a string, as JSON.stringify writes it. */
function jsonText(cp: number): string {
  if (cp === 0x22) return '\\"';
  if (cp === 0x5c) return '\\\\';
  const short = SHORT_ESCAPES.get(cp);
  if (short !== undefined) return `\\${short}`;
  if (cp < 0x20) return `\\u${hex(cp, 4)}`;
  return String.fromCodePoint(cp);
}

/** A character inside a GBNF class: ASCII letters and digits as themselves, anything else escaped. */
function classChar(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) return String.fromCodePoint(cp);
  if (cp <= 0xff) return `\\x${hex(cp, 2).toUpperCase()}`;
  if (cp <= 0xffff) return `\\u${hex(cp, 4).toUpperCase()}`;
  return `\\U${hex(cp, 8).toUpperCase()}`;
}

function classItems(set: Ranges): string {
  return set.map(([lo, hi]) => (lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`)).join('');
}

/** A class over lowercase hex digits, for the last digit of a \u00XX escape. */
function hexDigitClass(nibbles: number[]): string {
  if (nibbles.length === 1) return gbnfLiteral(hex(nibbles[0], 1));
  const ranges = normalize(nibbles.map((n) => [n, n] as const));
  // Keep digit and letter runs apart so that ranges read as hex digits ([0-9a-f], not [0-\x66]).
  const parts = ranges.flatMap(([lo, hi]) => (lo <= 9 && hi >= 10 ? [[lo, 9], [10, hi]] : [[lo, hi]]));
  return `[${parts.map(([lo, hi]) => (lo === hi ? hex(lo, 1) : `${hex(lo, 1)}-${hex(hi, 1)}`)).join('')}]`;
}

class Parser {
  private pos = 0;
  private readonly cps: number[];

  constructor(
    source: string,
    private readonly path: string,
  ) {
    this.cps = Array.from(source, (ch) => ch.codePointAt(0)!);
  }

  refuse(reason: string): never {
    throw new UnsupportedSchema('pattern', this.path, reason);
  }

  parse(): Node {
    const node = this.disjunction();
    if (this.pos < this.cps.length) this.refuse(`unexpected '${this.char()}'`);
    return node;
  }

  private char(offset = 0): string {
    const cp = this.cps[this.pos + offset];
    return cp === undefined ? '' : String.fromCodePoint(cp);
  }

  private eat(text: string): boolean {
    const cps = Array.from(text, (ch) => ch.codePointAt(0)!);
    if (!cps.every((cp, i) => this.cps[this.pos + i] === cp)) return false;
    this.pos += cps.length;
    return true;
  }

  private next(): number {
    const cp = this.cps[this.pos++];
    if (cp === undefined) this.refuse('unexpected end');
    return cp;
  }

  private disjunction(): Node {
    const options = [this.alternative()];
    while (this.eat('|')) options.push(this.alternative());
    return options.length === 1 ? options[0] : { t: 'alt', options };
  }

  private alternative(): Node {
    const items: Node[] = [];
    while (this.pos < this.cps.length && this.char() !== '|' && this.char() !== ')') items.push(this.term());
    return items.length === 1 ? items[0] : { t: 'seq', items };
  }

  private term(): Node {
    if (this.eat('^')) return { t: 'bol' };
    if (this.eat('$')) return { t: 'eol' };
    return this.quantified(this.atom());
  }

  private quantified(node: Node): Node {
    let min: number;
    let max: number;
    if (this.eat('*')) [min, max] = [0, Infinity];
    else if (this.eat('+')) [min, max] = [1, Infinity];
    else if (this.eat('?')) [min, max] = [0, 1];
    else if (this.char() === '{') {
      const match = /^\{(\d+)(,(\d*))?\}/.exec(String.fromCodePoint(...this.cps.slice(this.pos, this.pos + 40)));
      if (match === null) this.refuse('malformed quantifier');
      this.pos += match[0].length;
      min = Number(match[1]);
      max = match[2] === undefined ? min : match[3] === '' ? Infinity : Number(match[3]);
    } else return node;
    // A lazy quantifier matches the same strings; only which match is reported differs.
    this.eat('?');
    return { t: 'rep', node, min, max };
  }

  private atom(): Node {
    if (this.eat('.')) return { t: 'set', set: DOT };
    if (this.eat('[')) return { t: 'set', set: this.characterClass() };
    if (this.eat('(')) {
      if (this.eat('?')) {
        if (this.eat('=') || this.eat('!')) this.refuse('lookahead is not supported');
        if (this.eat('<=') || this.eat('<!')) this.refuse('lookbehind is not supported');
        if (this.eat('<')) {
          while (this.pos < this.cps.length && this.char() !== '>') this.pos++;
          this.eat('>');
        } else if (!this.eat(':')) this.refuse('inline flags are not supported');
      }
      const inner = this.disjunction();
      if (!this.eat(')')) this.refuse("missing ')'");
      return inner;
    }
    if (this.eat('\\')) {
      const c = this.char();
      if (c === 'b' || c === 'B') this.refuse(`\\${c} (word boundary) is not supported`);
      if (/[1-9]/.test(c) || c === 'k') this.refuse('backreferences are not supported');
      return { t: 'set', set: this.escape(false) };
    }
    return { t: 'set', set: single(this.next()) };
  }

  /** After a backslash: a character or class escape (the pattern already compiled in `u` mode). */
  private escape(inClass: boolean): Ranges {
    const c = String.fromCodePoint(this.next());
    switch (c) {
      case 'd': return DIGIT;
      case 'D': return complement(DIGIT);
      case 'w': return WORD;
      case 'W': return complement(WORD);
      case 's': return SPACE;
      case 'S': return complement(SPACE);
      case 'n': return single(0x0a);
      case 'r': return single(0x0d);
      case 't': return single(0x09);
      case 'v': return single(0x0b);
      case 'f': return single(0x0c);
      case '0': return single(0);
      case 'c': return single(this.next() % 32);
      case 'x': return single(this.hexDigits(2));
      case 'u': return single(this.unicodeEscape());
      case 'p':
      case 'P': return this.refuse(`unicode property escapes (\\${c}{...}) are not supported`);
      default:
        if (c === 'b' && inClass) return single(0x08);
        if (/[A-Za-z0-9]/.test(c)) return this.refuse(`unsupported escape \\${c}`);
        return single(c.codePointAt(0)!);
    }
  }

  private hexDigits(count: number): number {
    const digits = String.fromCodePoint(...this.cps.slice(this.pos, this.pos + count));
    if (!new RegExp(`^[0-9a-fA-F]{${count}}$`).test(digits)) this.refuse('malformed escape');
    this.pos += count;
    return parseInt(digits, 16);
  }

  private unicodeEscape(): number {
    if (this.eat('{')) {
      let digits = '';
      while (this.pos < this.cps.length && this.char() !== '}') digits += String.fromCodePoint(this.next());
      if (!this.eat('}') || !/^[0-9a-fA-F]+$/.test(digits)) this.refuse('malformed escape');
      return parseInt(digits, 16);
    }
    const cp = this.hexDigits(4);
    // In `u` mode an escaped surrogate pair is one code point.
    if (cp >= 0xd800 && cp <= 0xdbff && this.char() === '\\' && this.char(1) === 'u') {
      const save = this.pos;
      this.pos += 2;
      const low = /^[0-9a-fA-F]{4}$/.test(String.fromCodePoint(...this.cps.slice(this.pos, this.pos + 4))) ? this.hexDigits(4) : -1;
      if (low >= 0xdc00 && low <= 0xdfff) return 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      this.pos = save;
    }
    return cp;
  }

  private characterClass(): Ranges {
    const negated = this.eat('^');
    const parts: Ranges[] = [];
    while (!this.eat(']')) {
      const from = this.classAtom();
      if (this.char() === '-' && this.char(1) !== ']' && this.char(1) !== '') {
        this.pos++;
        const to = this.classAtom();
        if (from.length !== 1 || from[0][0] !== from[0][1] || to.length !== 1 || to[0][0] !== to[0][1]) {
          this.refuse('a class escape cannot bound a range');
        }
        parts.push([[from[0][0], to[0][0]]]);
      } else parts.push(from);
    }
    const set = union(...parts);
    return negated ? complement(set) : set;
  }

  private classAtom(): Ranges {
    if (this.eat('\\')) return this.escape(true);
    return single(this.next());
  }
}

const hasAnchor = (node: Node): boolean => {
  switch (node.t) {
    case 'bol':
    case 'eol':
      return true;
    case 'set':
      return false;
    case 'seq':
      return node.items.some(hasAnchor);
    case 'alt':
      return node.options.some(hasAnchor);
    case 'rep':
      return hasAnchor(node.node);
  }
};

/** One way to match: an anchor-free body, tied or not to the string's start and end. */
interface Branch {
  readonly start: boolean;
  readonly end: boolean;
  readonly body: Node;
}

/** Lifts ^ and $ out of the pattern; they may sit at the edges of a sequence or of alternatives there. */
function branches(node: Node, refuse: (reason: string) => never): Branch[] {
  if (!hasAnchor(node)) return [{ start: false, end: false, body: node }];
  switch (node.t) {
    case 'bol':
      return [{ start: true, end: false, body: EMPTY_SEQ }];
    case 'eol':
      return [{ start: false, end: true, body: EMPTY_SEQ }];
    case 'set':
      return [{ start: false, end: false, body: node }];
    case 'rep':
      return refuse('an anchor inside a quantified group is not supported');
    case 'alt':
      return node.options.flatMap((option) => branches(option, refuse));
    case 'seq': {
      let i = 0;
      let j = node.items.length;
      const start = node.items[0]?.t === 'bol';
      while (node.items[i]?.t === 'bol') i++;
      const end = j > i && node.items[j - 1].t === 'eol';
      while (j > i && node.items[j - 1].t === 'eol') j--;
      const core = node.items.slice(i, j);
      const tie = (b: Branch): Branch => ({ start: start || b.start, end: end || b.end, body: b.body });
      if (core.length === 0) return [{ start, end, body: EMPTY_SEQ }];
      if (core.length === 1) return branches(core[0], refuse).map(tie);
      const first = branches(core[0], refuse);
      const last = branches(core[core.length - 1], refuse);
      const middle = core.slice(1, -1);
      if (middle.some(hasAnchor) || first.some((b) => b.end) || last.some((b) => b.start)) {
        return refuse('an anchor in the middle of the pattern is not supported');
      }
      if (first.length * last.length > 64) return refuse('too many anchored alternatives');
      return first.flatMap((f) =>
        last.map((l) => tie({ start: f.start, end: l.end, body: { t: 'seq', items: [f.body, ...middle, l.body] } })),
      );
    }
  }
}

function expandedSize(node: Node): number {
  switch (node.t) {
    case 'set':
    case 'bol':
    case 'eol':
      return 1;
    case 'seq':
      return node.items.reduce((n, item) => n + expandedSize(item), 0);
    case 'alt':
      return node.options.reduce((n, option) => n + expandedSize(option), 0);
    case 'rep':
      return expandedSize(node.node) * Math.max(1, node.max === Infinity ? node.min + 1 : node.max);
  }
}

/** Shortest and longest match of an anchor-free node, in code points (JSON Schema's string length). */
function lengthRange(node: Node): readonly [number, number] {
  switch (node.t) {
    case 'set':
      return [1, 1];
    case 'bol':
    case 'eol':
      return [0, 0];
    case 'seq':
      return node.items.reduce<readonly [number, number]>((acc, item) => {
        const [lo, hi] = lengthRange(item);
        return [acc[0] + lo, acc[1] + hi];
      }, [0, 0]);
    case 'alt': {
      const ranges = node.options.map(lengthRange);
      return [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
    }
    case 'rep': {
      const [lo, hi] = lengthRange(node.node);
      return [node.min * lo, hi === 0 || node.max === 0 ? 0 : node.max * hi];
    }
  }
}

/**
 * The branch, anchored at both ends, narrowed so that every string it matches is between `min` and
 * `max` code points long; `null` where no string of the branch fits. Exact intersection of a regular
 * language with a length range needs an automaton; this covers what zod and pydantic emit
 * (`^[A-Z][a-z]+$` with min/max length): a sequence of fixed-length parts and repetitions of
 * fixed-length parts. The slack goes to the repetitions in order, so the result matches a subset of
 * the intersection (never a string outside it); a shape it cannot narrow is `undefined`.
 */
function boundBranch(branch: Branch, min: number, max: number): Branch | null | undefined {
  const anyRep: Node = { t: 'rep', node: { t: 'set', set: ANY }, min: 0, max: Infinity };
  const body = branch.body.t === 'seq' ? branch.body.items : [branch.body];
  const items = [...(branch.start ? [] : [anyRep]), ...body, ...(branch.end ? [] : [anyRep])];
  const whole: Node = { t: 'seq', items };
  const [lo, hi] = lengthRange(whole);
  if (lo >= min && hi <= max) return { start: true, end: true, body: whole };
  let base = 0;
  const unit: number[] = [];
  for (const item of items) {
    const [a, b] = lengthRange(item);
    if (a === b) {
      base += a;
      unit.push(0);
      continue;
    }
    if (item.t !== 'rep') return undefined;
    const [f, g] = lengthRange(item.node);
    if (f !== g || f === 0) return undefined;
    base += item.min * f;
    unit.push(f);
  }
  if (base > max) return null;
  let slack = max - base;
  let need = Math.max(0, min - base);
  const bounded = items.map((item, i): Node => {
    if (unit[i] === 0 || item.t !== 'rep') return item;
    const f = unit[i];
    const extra = Math.min(item.max - item.min, Math.floor(slack / f));
    const required = Math.min(extra, Math.ceil(need / f));
    slack -= extra * f;
    need = Math.max(0, need - required * f);
    return { t: 'rep', node: item.node, min: item.min + required, max: item.min + extra };
  });
  if (need > 0) return null;
  return { start: true, end: true, body: { t: 'seq', items: bounded } };
}

/** Writes the anchor-free AST as GBNF over JSON text; `undefined` where nothing can match. */
class Emitter {
  constructor(private readonly rules: RuleSet) {}

  /** Every character that `set` holds, each as JSON writes it inside a string. */
  set(set: Ranges): Expr | undefined {
    if (set.length === 0) return undefined;
    if (set.length === 1 && set[0][0] === set[0][1]) {
      const text = jsonText(set[0][0]);
      return { text: gbnfLiteral(text), atomic: [...text].length === 1 };
    }
    const parts: string[] = [];
    const plain = intersect(set, JSON_PLAIN);
    if (plain.length > 0) {
      // Whichever is shorter: the characters, or what the whole plain range lacks of them.
      const missing = intersect(complement(plain), JSON_PLAIN);
      parts.push(missing.length < plain.length ? `[^\\x00-\\x1F\\x22\\x5C${classItems(missing)}]` : `[${classItems(plain)}]`);
    }
    const escaped = [0x22, 0x5c, ...SHORT_ESCAPES.keys()].filter((cp) => has(set, cp));
    if (escaped.length > 0) {
      const letters = escaped.map((cp) => (cp === 0x22 || cp === 0x5c ? classChar(cp) : SHORT_ESCAPES.get(cp)!));
      parts.push(`"\\\\" [${letters.join('')}]`);
    }
    for (const high of [0, 1]) {
      const nibbles: number[] = [];
      for (let n = 0; n < 16; n++) {
        const cp = high * 16 + n;
        if (has(set, cp) && !SHORT_ESCAPES.has(cp)) nibbles.push(n);
      }
      if (nibbles.length > 0) parts.push(`"\\\\u00${high}" ${hexDigitClass(nibbles)}`);
    }
    if (parts.length === 1 && parts[0].startsWith('[')) return { text: parts[0], atomic: true };
    return { text: this.rules.add('pattern-char', parts.join(' | ')), atomic: true };
  }

  node(node: Node): Expr | undefined {
    switch (node.t) {
      case 'set':
        return this.set(node.set);
      case 'bol':
      case 'eol':
        return EMPTY; // unreachable: branches() has lifted every anchor
      case 'seq':
        return this.sequence(node.items);
      case 'alt': {
        const options = new Map<string, Expr>();
        for (const option of node.options) {
          const expr = this.node(option);
          if (expr !== undefined) options.set(expr.text, expr);
        }
        if (options.size <= 1) return [...options.values()][0];
        return { text: `(${[...options.keys()].join(' | ')})`, atomic: true };
      }
      case 'rep': {
        const inner = this.node(node.node);
        if (node.max === 0 || inner?.text === '""') return EMPTY;
        if (inner === undefined) return node.min === 0 ? EMPTY : undefined;
        const { min, max } = node;
        if (min === 1 && max === 1) return inner;
        const atom = inner.atomic ? inner.text : `(${inner.text})`;
        const op =
          max === Infinity ? (min === 0 ? '*' : min === 1 ? '+' : `{${min},}`) : min === 0 && max === 1 ? '?' : min === max ? `{${min}}` : `{${min},${max}}`;
        return { text: `${atom}${op}`, atomic: false };
      }
    }
  }

  private sequence(items: readonly Node[]): Expr | undefined {
    const parts: Expr[] = [];
    let literal = '';
    const flush = (): void => {
      if (literal !== '') parts.push({ text: gbnfLiteral(literal), atomic: [...literal].length === 1 });
      literal = '';
    };
    for (const item of items.flatMap((i) => (i.t === 'seq' ? i.items : [i]))) {
      if (item.t === 'set' && item.set.length === 1 && item.set[0][0] === item.set[0][1]) {
        literal += jsonText(item.set[0][0]);
        continue;
      }
      flush();
      const expr = this.node(item);
      if (expr === undefined) return undefined;
      if (expr.text !== '""') parts.push(expr);
    }
    flush();
    if (parts.length === 0) return EMPTY;
    if (parts.length === 1) return parts[0];
    return { text: parts.map((p) => p.text).join(' '), atomic: false };
  }
}

/**
 * A GBNF expression (a rule name) for the JSON text between the quotes of a string whose value
 * matches `pattern`. Each character is written as JSON.stringify would, so every string the grammar
 * allows parses, and every matching value has its usual encoding allowed.
 */
export function patternGrammar(rules: RuleSet, pattern: string, path: string, lengths?: { min: number; max: number; keyword: string; path: string }): string {
  try {
    new RegExp(pattern, 'u');
  } catch (err) {
    throw new UnsupportedSchema('pattern', path, `not a valid ECMAScript regular expression (${(err as Error).message})`);
  }
  const parser = new Parser(pattern, path);
  const ast = parser.parse();
  if (expandedSize(ast) > MAX_EXPANDED) parser.refuse('its counted repetitions are too large');
  const emitter = new Emitter(rules);
  const any = (): string => emitter.set(ANY)!.text;
  const options: string[] = [];
  let all = branches(ast, (reason) => parser.refuse(reason));
  if (lengths !== undefined) {
    const bounded = all.map((branch) => boundBranch(branch, lengths.min, lengths.max));
    if (bounded.some((b) => b === undefined)) throw new UnsupportedSchema(lengths.keyword, lengths.path, "together with this 'pattern' (only sequences of fixed-length parts and their repetitions can be length-bounded)");
    all = bounded.filter((b): b is Branch => b !== null && b !== undefined);
    if (all.length === 0) throw new UnsupportedSchema(lengths.keyword, lengths.path, "no string matching 'pattern' has a length in range");
  }
  for (const branch of all) {
    const body = emitter.node(branch.body);
    if (body === undefined) continue;
    if (body.text === '""' && !(branch.start && branch.end)) {
      options.splice(0, options.length, `${any()}*`);
      break; // an empty match somewhere: every string matches
    }
    const text = [branch.start ? '' : `${any()}*`, body.text === '""' ? '' : body.text, branch.end ? '' : `${any()}*`].filter(Boolean).join(' ');
    options.push(text === '' ? '""' : text);
  }
  const unique = [...new Set(options)];
  if (unique.length === 0) parser.refuse('it matches no string');
  return rules.add('pattern', unique.length === 1 ? unique[0] : unique.map((o) => `(${o})`).join(' | '));
}
