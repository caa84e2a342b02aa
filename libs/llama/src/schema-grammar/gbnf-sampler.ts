/**
 * A test tool for grammars: parses llama.cpp's GBNF the way llama.cpp does, draws random strings a
 * grammar produces (`sampleGbnf`) and decides whether it matches a whole text (`acceptsGbnf`). The
 * schema-to-grammar specs use it to prove what their grammars allow and forbid without a model.
 */

/** A grammar llama.cpp would refuse (or that this tool cannot decide), with line and column. */
export class GbnfError extends Error {}

export interface GbnfSampleOptions {
  /** Rule references deeper than this expand the shortest way (default 16). */
  maxDepth?: number;
  /** Past this many code points of output, every choice is the shortest one (default 1500). */
  maxLength?: number;
}

type Expr =
  | { kind: 'chars'; id: number; negated: boolean; ranges: readonly (readonly [number, number])[] }
  | { kind: 'any'; id: number }
  | { kind: 'literal'; id: number; codes: readonly number[] }
  | { kind: 'seq'; id: number; items: readonly Expr[] }
  | { kind: 'alt'; id: number; options: readonly Expr[] }
  | { kind: 'ref'; id: number; name: string; rule: number }
  | { kind: 'repeat'; id: number; item: Expr; min: number; max: number };

// Distributive, so that `make({ kind: 'seq', items })` checks the fields of that one kind.
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type ExprInit = WithoutId<Expr>;

interface Rule {
  name: string;
  body: Expr;
}

/** llama.cpp's MAX_REPETITION_THRESHOLD: larger counts are refused, larger maxima become unbounded. */
const MAX_REPETITION = 2000;
const MAX_CODE_POINT = 0x10ffff;
/** How many extra repetitions an unbounded `*`, `+` or `{m,}` draws at most. */
const UNBOUNDED_EXTRA = 5;

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /^[a-zA-Z0-9-]$/.test(ch);
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

const isSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdfff;

/**
 * A recursive-descent reader that follows llama-grammar.cpp step by step, so that a grammar it
 * accepts is one llama.cpp accepts: newlines end a rule unless inside parentheses or after `|`.
 */
class GbnfParser {
  private pos = 0;
  private readonly symbols = new Set<string>();
  private generated = 0;
  private nextId = 0;
  private readonly rules = new Map<string, Expr>();
  private readonly refs: { expr: Expr & { kind: 'ref' }; at: number }[] = [];

  constructor(private readonly src: string) {}

  parse(): Rule[] {
    this.space(true);
    while (this.pos < this.src.length) this.rule();
    const names = [...this.rules.keys()];
    const index = new Map(names.map((name, i) => [name, i]));
    for (const { expr, at } of this.refs) {
      const rule = index.get(expr.name);
      if (rule === undefined) throw this.error(`undefined rule identifier '${expr.name}'`, at);
      expr.rule = rule;
    }
    if (!this.rules.has('root')) throw new GbnfError('gbnf: grammar does not contain a root symbol');
    return names.map((name) => ({ name, body: this.rules.get(name)! }));
  }

  private error(message: string, at = this.pos): GbnfError {
    const before = this.src.slice(0, at);
    const line = before.split('\n').length;
    const col = at - before.lastIndexOf('\n');
    return new GbnfError(`gbnf: ${message} at line ${line}, column ${col}`);
  }

  private make(init: ExprInit): Expr {
    return { ...init, id: this.nextId++ } as Expr;
  }

  private get symbolCount(): number {
    return this.symbols.size + this.generated;
  }

  private space(newlineOk: boolean): void {
    const src = this.src;
    for (;;) {
      const ch = src[this.pos];
      if (ch === ' ' || ch === '\t' || (newlineOk && (ch === '\r' || ch === '\n'))) {
        this.pos++;
      } else if (ch === '#') {
        while (this.pos < src.length && src[this.pos] !== '\r' && src[this.pos] !== '\n') this.pos++;
      } else {
        return;
      }
    }
  }

  private name(): string {
    const start = this.pos;
    while (isWordChar(this.src[this.pos])) this.pos++;
    if (this.pos === start) throw this.error('expecting name');
    return this.src.slice(start, this.pos);
  }

  private int(): number {
    const start = this.pos;
    while (isDigit(this.src[this.pos])) this.pos++;
    if (this.pos === start) throw this.error('expecting integer');
    return Number(this.src.slice(start, this.pos));
  }

  private rule(): void {
    const at = this.pos;
    const name = this.name();
    this.symbols.add(name);
    this.space(false);
    if (!this.src.startsWith('::=', this.pos)) throw this.error('expecting ::=');
    this.pos += 3;
    this.space(true);
    const body = this.alternates(false);
    // llama.cpp lets a later definition replace an earlier one; a generator doing that has a bug.
    if (this.rules.has(name)) throw this.error(`rule '${name}' is defined twice`, at);
    this.rules.set(name, body);
    const ch = this.src[this.pos];
    if (ch === '\r') this.pos += this.src[this.pos + 1] === '\n' ? 2 : 1;
    else if (ch === '\n') this.pos++;
    else if (ch !== undefined) throw this.error('expecting newline or end');
    this.space(true);
  }

  private alternates(nested: boolean): Expr {
    const options = [this.sequence(nested)];
    while (this.src[this.pos] === '|') {
      this.pos++;
      this.space(true);
      options.push(this.sequence(nested));
    }
    return options.length === 1 ? options[0]! : this.make({ kind: 'alt', options });
  }

  private hex(digits: number): number {
    const text = this.src.slice(this.pos, this.pos + digits);
    if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(text)) throw this.error(`expecting ${digits} hex chars`);
    this.pos += digits;
    return parseInt(text, 16);
  }

  private char(): number {
    const src = this.src;
    if (this.pos >= src.length) throw this.error('unexpected end of input');
    if (src[this.pos] !== '\\') {
      const code = src.codePointAt(this.pos)!;
      this.pos += code > 0xffff ? 2 : 1;
      return code;
    }
    const esc = src[this.pos + 1];
    this.pos += 2;
    switch (esc) {
      case 'x':
        return this.hex(2);
      case 'u':
        return this.hex(4);
      case 'U':
        return this.hex(8);
      case 't':
        return 0x09;
      case 'r':
        return 0x0d;
      case 'n':
        return 0x0a;
      case '\\':
      case '"':
      case '[':
      case ']':
      case '-':
        return esc.charCodeAt(0);
      default:
        throw this.error('unknown escape', this.pos - 2);
    }
  }

  private sequence(nested: boolean): Expr {
    const src = this.src;
    const items: Expr[] = [];
    // The item a quantifier applies to: llama.cpp's `last_sym_start`, and its `n_prev_rules`.
    let last: Expr | undefined;
    let lastRules = 1;
    const quantify = (min: number, max: number): void => {
      if (last === undefined) throw this.error('expecting preceding item to */+/?/{');
      const total = max !== Infinity && max > 0 ? max : Math.max(min, 1);
      if (lastRules * total >= MAX_REPETITION) {
        throw this.error('number of rules that are going to be repeated exceeds sane defaults');
      }
      this.generated += max === Infinity ? 1 : max - min;
      lastRules *= total;
      items.pop();
      if (max === 0) {
        last = undefined;
        return;
      }
      last = this.make({ kind: 'repeat', item: last, min, max });
      items.push(last);
    };
    const push = (expr: Expr | undefined, rules = 1): void => {
      last = expr;
      lastRules = rules;
      if (expr) items.push(expr);
    };

    for (;;) {
      const ch = src[this.pos];
      if (ch === '"') {
        this.pos++;
        const codes: number[] = [];
        while (src[this.pos] !== '"') codes.push(this.char());
        this.pos++;
        if (codes.length === 1) push(this.make({ kind: 'chars', negated: false, ranges: [[codes[0]!, codes[0]!]] }));
        else push(codes.length ? this.make({ kind: 'literal', codes }) : undefined);
        this.space(nested);
      } else if (ch === '[') {
        this.pos++;
        const negated = src[this.pos] === '^';
        if (negated) this.pos++;
        const ranges: [number, number][] = [];
        while (src[this.pos] !== ']') {
          const lo = this.char();
          let hi = lo;
          if (src[this.pos] === '-' && src[this.pos + 1] !== ']') {
            this.pos++;
            hi = this.char();
          }
          ranges.push([lo, hi]);
        }
        this.pos++;
        // `[]` and `[^]` emit no element in llama.cpp, so they match the empty string.
        push(ranges.length ? this.make({ kind: 'chars', negated, ranges }) : undefined);
        this.space(nested);
      } else if (ch === '<' || ch === '!') {
        throw this.error('token matches (<...>, !<...>) need a vocabulary and are not supported here');
      } else if (isWordChar(ch)) {
        const at = this.pos;
        const name = this.name();
        this.symbols.add(name);
        const expr: Expr & { kind: 'ref' } = { kind: 'ref', id: this.nextId++, name, rule: -1 };
        this.refs.push({ expr, at });
        push(expr);
        this.space(nested);
      } else if (ch === '(') {
        this.pos++;
        this.space(true);
        const before = this.symbolCount;
        this.generated++;
        const inner = this.alternates(true);
        if (src[this.pos] !== ')') throw this.error("expecting ')'");
        this.pos++;
        push(inner, Math.max(1, this.symbolCount - before));
        this.space(nested);
      } else if (ch === '.') {
        this.pos++;
        push(this.make({ kind: 'any' }));
        this.space(nested);
      } else if (ch === '*' || ch === '+' || ch === '?') {
        this.pos++;
        this.space(nested);
        quantify(ch === '+' ? 1 : 0, ch === '?' ? 1 : Infinity);
      } else if (ch === '{') {
        this.pos++;
        this.space(nested);
        if (!isDigit(src[this.pos])) throw this.error('expecting an int');
        const min = this.int();
        this.space(nested);
        let max = Infinity;
        if (src[this.pos] === '}') {
          max = min;
        } else if (src[this.pos] === ',') {
          this.pos++;
          this.space(nested);
          if (isDigit(src[this.pos])) {
            max = this.int();
            this.space(nested);
          }
          if (src[this.pos] !== '}') throw this.error("expecting '}'");
        } else {
          throw this.error("expecting ','");
        }
        this.pos++;
        this.space(nested);
        if (min > MAX_REPETITION) throw this.error('number of repetitions exceeds sane defaults');
        if (max > MAX_REPETITION) max = Infinity;
        // llama.cpp would loop on an unsigned underflow here; refuse instead.
        if (max < min) throw this.error(`repetition maximum ${max} is below its minimum ${min}`);
        quantify(min, max);
      } else {
        break;
      }
    }
    return items.length === 1 ? items[0]! : this.make({ kind: 'seq', items });
  }
}

function inRanges(ranges: readonly (readonly [number, number])[], code: number): boolean {
  for (const [lo, hi] of ranges) if (code >= lo && code <= hi) return true;
  return false;
}

function matchesChars(expr: Expr & { kind: 'chars' }, code: number): boolean {
  return inRanges(expr.ranges, code) !== expr.negated;
}

/** Some code point outside `ranges` (not a surrogate, so it survives a JS string), if any. */
function firstOutside(ranges: readonly (readonly [number, number])[]): number | undefined {
  const candidates = [0x20, 0x41, 0x61, 0, ...ranges.map(([, hi]) => hi + 1), 0xe000];
  for (const code of candidates) {
    if (code <= MAX_CODE_POINT && !isSurrogate(code) && !inRanges(ranges, code)) return code;
  }
  return undefined;
}

/** Code points beyond printable ASCII that `.` and `[^...]` draw from now and then. */
const EXOTIC = [0x7f, 0xa0, 0xe9, 0x3b1, 0x4e2d, 0x2028, 0xfeff, 0xfffd, 0x1f600];

/** A parsed grammar: sample it or match texts against its `root` rule. */
export class GbnfGrammar {
  readonly rules: readonly Rule[];
  private readonly root: number;
  /** Fewest code points each rule can produce (Infinity: it can never finish). */
  private readonly ruleMinLen: number[];
  /** The same plus one per rule reference: a choice of least cost always reaches an end. */
  private readonly ruleCost: number[];
  private readonly exprCost = new Map<number, number>();

  constructor(gbnf: string) {
    this.rules = new GbnfParser(gbnf).parse();
    this.root = this.rules.findIndex((r) => r.name === 'root');
    this.ruleMinLen = this.fixpoint(0);
    this.ruleCost = this.fixpoint(1);
    this.checkLeftRecursion();
  }

  get ruleNames(): string[] {
    return this.rules.map((r) => r.name);
  }

  /** Whether the root rule matches all of `text`, code point by code point. */
  accepts(text: string): boolean {
    const codes = Array.from(text, (ch) => ch.codePointAt(0)!);
    return new Matcher(this.rules, codes).ends(this.rules[this.root]!.body, 0).includes(codes.length);
  }

  /** A random string of the language; `random` returns numbers in [0, 1) like Math.random. */
  sample(random: () => number, options: GbnfSampleOptions = {}): string {
    if (this.cost(this.rules[this.root]!.body) === Infinity) {
      throw new GbnfError('gbnf: root can never produce a finite string');
    }
    const sampler = new Sampler(this, random, options.maxDepth ?? 16, options.maxLength ?? 1500);
    sampler.generate(this.rules[this.root]!.body, 0);
    let text = '';
    for (let i = 0; i < sampler.out.length; i += 4096) text += String.fromCodePoint(...sampler.out.slice(i, i + 4096));
    return text;
  }

  /** Cost of an expression after the rule costs are known; memoized by expression id. */
  cost(expr: Expr): number {
    if (expr.kind === 'ref') return this.ruleCost[expr.rule]! + 1;
    let cost = this.exprCost.get(expr.id);
    if (cost === undefined) {
      cost = this.measure(expr, (ref) => this.ruleCost[ref.rule]! + 1, (e) => this.cost(e));
      this.exprCost.set(expr.id, cost);
    }
    return cost;
  }

  private measure(expr: Expr, ref: (e: Expr & { kind: 'ref' }) => number, sub: (e: Expr) => number): number {
    switch (expr.kind) {
      case 'chars':
        return this.charsCanMatch(expr) ? 1 : Infinity;
      case 'any':
        return 1;
      case 'literal':
        return expr.codes.length;
      case 'seq':
        return expr.items.reduce((sum, item) => sum + sub(item), 0);
      case 'alt':
        return Math.min(...expr.options.map(sub));
      case 'ref':
        return ref(expr);
      case 'repeat': {
        if (expr.min === 0) return 0;
        return expr.min * sub(expr.item);
      }
    }
  }

  charsCanMatch(expr: Expr & { kind: 'chars' }): boolean {
    if (expr.negated) return firstOutside(expr.ranges) !== undefined;
    return expr.ranges.some(([lo, hi]) => lo <= hi && lo <= MAX_CODE_POINT);
  }

  /** Least fixed point of per-rule lengths, each reference adding `refCost`. */
  private fixpoint(refCost: number): number[] {
    const values = this.rules.map(() => Infinity);
    const measure = (e: Expr): number => this.measure(e, (r) => values[r.rule]! + refCost, measure);
    for (let changed = true; changed; ) {
      changed = false;
      this.rules.forEach((rule, i) => {
        const value = measure(rule.body);
        if (value < values[i]!) {
          values[i] = value;
          changed = true;
        }
      });
    }
    return values;
  }

  /** llama.cpp refuses left recursion; a matcher that recurses on (expression, position) could not end. */
  private checkLeftRecursion(): void {
    const leftRefs = this.rules.map((rule) => {
      const out: number[] = [];
      const visit = (e: Expr): boolean => {
        // Collects the rules `e` can start with; returns whether `e` can match nothing.
        switch (e.kind) {
          case 'chars':
          case 'any':
          case 'literal':
            return false;
          case 'seq':
            for (const item of e.items) if (!visit(item)) return false;
            return true;
          case 'alt': {
            let empty = false;
            for (const option of e.options) empty = visit(option) || empty;
            return empty;
          }
          case 'ref':
            out.push(e.rule);
            return this.ruleMinLen[e.rule] === 0;
          case 'repeat':
            return visit(e.item) || e.min === 0;
        }
      };
      visit(rule.body);
      return out;
    });
    const state = this.rules.map(() => 0); // 0 unseen, 1 on the path, 2 done
    const dfs = (i: number): void => {
      state[i] = 1;
      for (const next of leftRefs[i]!) {
        if (state[next] === 1) {
          throw new GbnfError(`gbnf: unsupported grammar, left recursion detected for nonterminal '${this.rules[next]!.name}'`);
        }
        if (state[next] === 0) dfs(next);
      }
      state[i] = 2;
    };
    for (let i = 0; i < this.rules.length; i++) if (state[i] === 0) dfs(i);
  }
}

/** Memoized matcher: the set of positions where an expression starting at a position can end. */
class Matcher {
  private readonly memo = new Map<number, readonly number[] | null>();
  private readonly stride: number;

  constructor(
    private readonly rules: readonly Rule[],
    private readonly codes: readonly number[],
  ) {
    this.stride = codes.length + 1;
  }

  ends(expr: Expr, pos: number): readonly number[] {
    const codes = this.codes;
    switch (expr.kind) {
      case 'chars':
        return pos < codes.length && matchesChars(expr, codes[pos]!) ? [pos + 1] : [];
      case 'any':
        return pos < codes.length ? [pos + 1] : [];
      case 'literal': {
        if (pos + expr.codes.length > codes.length) return [];
        for (let i = 0; i < expr.codes.length; i++) if (codes[pos + i] !== expr.codes[i]) return [];
        return [pos + expr.codes.length];
      }
      case 'ref':
        return this.ends(this.rules[expr.rule]!.body, pos);
      case 'seq':
      case 'alt':
      case 'repeat':
        break;
    }
    const key = expr.id * this.stride + pos;
    const known = this.memo.get(key);
    if (known) return known;
    if (known === null) throw new GbnfError('gbnf: left recursion reached while matching');
    this.memo.set(key, null);
    const result = this.compute(expr, pos);
    this.memo.set(key, result);
    return result;
  }

  private step(item: Expr, from: Iterable<number>): Set<number> {
    const next = new Set<number>();
    for (const p of from) for (const end of this.ends(item, p)) next.add(end);
    return next;
  }

  private compute(expr: Expr & { kind: 'seq' | 'alt' | 'repeat' }, pos: number): readonly number[] {
    switch (expr.kind) {
      case 'seq': {
        let current: Set<number> = new Set([pos]);
        for (const item of expr.items) {
          current = this.step(item, current);
          if (current.size === 0) break;
        }
        return [...current];
      }
      case 'alt': {
        const out = new Set<number>();
        for (const option of expr.options) for (const end of this.ends(option, pos)) out.add(end);
        return [...out];
      }
      case 'repeat': {
        // Frontier of positions after k repetitions. Ends never move backwards, so the frontier either
        // empties (an item that consumes) or grows until it stops changing (an item that can be empty).
        // Unbounded, a position already reached at least `min` times need not be expanded again.
        const out = new Set<number>(expr.min === 0 ? [pos] : []);
        let frontier = new Set([pos]);
        for (let k = 1; k <= expr.max && frontier.size > 0; k++) {
          let next = this.step(expr.item, frontier);
          const stable = next.size === frontier.size && [...next].every((p) => frontier.has(p));
          if (k >= expr.min && expr.max === Infinity) next = new Set([...next].filter((p) => !out.has(p)));
          if (k >= expr.min || stable) for (const p of next) out.add(p);
          if (stable) break;
          frontier = next;
        }
        return [...out];
      }
    }
  }
}

/** Draws one string; past the depth or length budget every choice is the one of least cost. */
class Sampler {
  readonly out: number[] = [];

  constructor(
    private readonly grammar: GbnfGrammar,
    private readonly random: () => number,
    private readonly maxDepth: number,
    private readonly maxLength: number,
  ) {}

  private pick(n: number): number {
    return Math.min(n - 1, Math.floor(this.random() * n));
  }

  private spent(depth: number): boolean {
    return depth > this.maxDepth || this.out.length >= this.maxLength;
  }

  generate(expr: Expr, depth: number): void {
    switch (expr.kind) {
      case 'chars':
        this.out.push(this.drawChar(expr));
        return;
      case 'any':
        this.out.push(this.drawChar(undefined));
        return;
      case 'literal':
        this.out.push(...expr.codes);
        return;
      case 'seq':
        for (const item of expr.items) this.generate(item, depth);
        return;
      case 'alt': {
        const costs = expr.options.map((o) => this.grammar.cost(o));
        const least = Math.min(...costs);
        const allowed = expr.options.filter((_, i) => costs[i]! < Infinity && (!this.spent(depth) || costs[i] === least));
        this.generate(allowed[this.pick(allowed.length)]!, depth);
        return;
      }
      case 'ref':
        this.generate(this.grammar.rules[expr.rule]!.body, depth + 1);
        return;
      case 'repeat': {
        if (this.grammar.cost(expr.item) === Infinity) return; // only reached with min 0
        const count = this.spent(depth) ? expr.min : this.drawCount(expr.min, expr.max);
        for (let i = 0; i < count; i++) {
          if (i >= expr.min && this.spent(depth)) break;
          this.generate(expr.item, depth);
        }
        return;
      }
    }
  }

  /** The bounds themselves half the time, so that specs see the edges; otherwise uniform. */
  private drawCount(min: number, max: number): number {
    const r = this.random();
    if (r < 0.25) return min;
    if (r < 0.5 && max !== Infinity) return max;
    const top = max === Infinity ? min + UNBOUNDED_EXTRA : max;
    return min + this.pick(top - min + 1);
  }

  /** A code point the class allows (`undefined`: any); surrogates are avoided, they split strings. */
  private drawChar(expr: (Expr & { kind: 'chars' }) | undefined): number {
    if (expr && !expr.negated) {
      const ranges = expr.ranges.filter(([lo, hi]) => lo <= hi && lo <= MAX_CODE_POINT);
      let code = 0;
      for (let attempt = 0; attempt < 8; attempt++) {
        const [lo, hi] = ranges[this.pick(ranges.length)]!;
        code = lo + this.pick(Math.min(hi, MAX_CODE_POINT) - lo + 1);
        if (!isSurrogate(code)) return code;
      }
      return code;
    }
    for (let attempt = 0; attempt < 16; attempt++) {
      const r = this.random();
      const code =
        r < 0.7 ? 0x20 + this.pick(0x5f) : r < 0.8 ? this.pick(0x20) : EXOTIC[this.pick(EXOTIC.length)]!;
      if (!expr || !inRanges(expr.ranges, code)) return code;
    }
    return firstOutside(expr!.ranges)!;
  }
}

const cache = new Map<string, GbnfGrammar>();

/** Parses a grammar (kept in a small cache, since specs sample one grammar many times). */
export function parseGbnf(gbnf: string): GbnfGrammar {
  let grammar = cache.get(gbnf);
  if (!grammar) {
    grammar = new GbnfGrammar(gbnf);
    if (cache.size >= 64) cache.delete(cache.keys().next().value!);
    cache.set(gbnf, grammar);
  }
  return grammar;
}

/** A random string the grammar's `root` rule produces; always ends (see GbnfSampleOptions). */
export function sampleGbnf(gbnf: string, random: () => number, options?: GbnfSampleOptions): string {
  return parseGbnf(gbnf).sample(random, options);
}

/** Whether the grammar's `root` rule matches the whole of `text`. */
export function acceptsGbnf(gbnf: string, text: string): boolean {
  return parseGbnf(gbnf).accepts(text);
}
