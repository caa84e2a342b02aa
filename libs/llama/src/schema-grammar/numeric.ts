/**
 * GBNF for JSON integers and numbers within JSON Schema's numeric keywords: minimum, maximum,
 * exclusiveMinimum / exclusiveMaximum (2020 numbers and draft-4 booleans) and multipleOf where a
 * grammar can enforce it exactly.
 *
 * Validators compare doubles, not the decimal text, so every bound becomes an inclusive double first
 * (an exclusive bound e becomes the next double past e): a decimal text t >= L (exactly) parses to a
 * double >= L because rounding is monotonic, so the grammar never admits a text that rounds onto an
 * excluded bound. Ranges are then built digit by digit (character classes over digit positions, as
 * llama.cpp's json-schema-to-grammar does), so [0, 1000000] is one rule. Open ends stop at 15 integer
 * digits (more only when a bound needs them): an unbounded run of digits could reach Infinity, which
 * no schema accepts. Fractions stop at 15 digits, the precision a double keeps.
 */
import { RuleSet, UnsupportedSchema } from './rules';

export type NumericBounds = {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number | boolean;
  exclusiveMaximum?: number | boolean;
  multipleOf?: number;
};

const FRACTION_DIGITS = 15;
const OPEN_END_DIGITS = 15;
/** At most this many multiples are listed as literals even when a digit automaton would do. */
const ENUMERATE_UP_TO = 32;
/** Past ENUMERATE_UP_TO, multiples are listed only when the automaton would be bigger than this. */
const MAX_ENUMERATED = 200;
/** Rules a divisibility automaton may take (about 15 digit positions times the modulus). */
const MAX_AUTOMATON_STATES = 640;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** JSON integers n within the bounds (no leading zeros, no '+', never '-0'). */
export function integerGrammar(rules: RuleSet, bounds: NumericBounds, path: string): string {
  const step = integerStep(bounds.multipleOf, path);
  const { low, high } = doubleBounds(bounds, path);
  const range = unitRange(low, high, 0, path);
  if (step === 1n) return signed(rules, range, 0, 1, 'integer', path);
  return multiples(rules, range, step, path);
}

/**
 * JSON numbers within the bounds: integers or decimals with up to 15 fraction digits; exponents only
 * when nothing bounds the value. An integer multipleOf means integers that are multiples.
 */
export function numberGrammar(rules: RuleSet, bounds: NumericBounds, path: string): string {
  if (bounds.multipleOf !== undefined) {
    const m = bounds.multipleOf;
    if (typeof m === 'number' && Number.isInteger(m) && m > 0) return integerGrammar(rules, bounds, path);
    positiveNumber(m, path);
    // Ajv and python-jsonschema both test `x / m` in floating point: 0.3 / 0.1 = 2.9999999999999996,
    // so even "at most k decimals" for m = 10^-k yields answers a validator rejects.
    throw new UnsupportedSchema(
      'multipleOf',
      path,
      `validators check a fractional multipleOf (${m}) by floating-point division, so no digits can guarantee it`,
    );
  }
  const { low, high } = doubleBounds(bounds, path);
  if (low === undefined && high === undefined) {
    return rules.add(
      'number',
      `"-"? ("0" | [1-9] [0-9]{0,${OPEN_END_DIGITS - 1}}) ("." [0-9]{1,${FRACTION_DIGITS}})? ([eE] [-+]? [0-9]{1,2})?`,
    );
  }
  return signed(rules, unitRange(low, high, FRACTION_DIGITS, path), FRACTION_DIGITS, 1, 'number', path);
}

// ---------------------------------------------------------------------------------------------
// Bounds

function positiveNumber(m: unknown, path: string): number {
  if (typeof m !== 'number' || !Number.isFinite(m) || m <= 0) {
    throw new UnsupportedSchema('multipleOf', path, 'it must be a positive number');
  }
  return m;
}

function integerStep(m: unknown, path: string): bigint {
  if (m === undefined) return 1n;
  const value = positiveNumber(m, path);
  if (!Number.isInteger(value)) {
    const detail = `only an integer multipleOf can be enforced on integers, not ${value}`;
    throw new UnsupportedSchema('multipleOf', path, detail);
  }
  return BigInt(value);
}

function finiteBound(value: unknown, keyword: string, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new UnsupportedSchema(keyword, path, 'it must be a finite number');
  }
  return value;
}

/** The inclusive double bounds (either may be open) that the schema's bounds amount to. */
function doubleBounds(bounds: NumericBounds, path: string): { low?: number; high?: number } {
  const lows: number[] = [];
  const highs: number[] = [];
  const side = (
    inclusive: 'minimum' | 'maximum',
    exclusive: 'exclusiveMinimum' | 'exclusiveMaximum',
    into: number[],
    past: (x: number) => number,
  ) => {
    const value = finiteBound(bounds[inclusive], inclusive, path);
    const flag = bounds[exclusive];
    if (typeof flag === 'boolean') {
      // draft 4: the flag makes `minimum` / `maximum` exclusive
      if (value !== undefined) into.push(flag ? past(value) : value);
      return;
    }
    if (value !== undefined) into.push(value);
    const strict = finiteBound(flag, exclusive, path);
    if (strict !== undefined) into.push(past(strict));
  };
  side('minimum', 'exclusiveMinimum', lows, nextUp);
  side('maximum', 'exclusiveMaximum', highs, nextDown);
  return { low: lows.length ? Math.max(...lows) : undefined, high: highs.length ? Math.min(...highs) : undefined };
}

function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const bits = new BigInt64Array(new Float64Array([x]).buffer);
  bits[0] += x > 0 ? 1n : -1n;
  return new Float64Array(bits.buffer)[0];
}

function nextDown(x: number): number {
  return -nextUp(-x);
}

/** x * 10^scale rounded up or down to an integer, from x's shortest decimal form (exact for doubles). */
function scaled(x: number, scale: number, round: 'ceil' | 'floor'): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x));
  if (!m) throw new Error(`unexpected number form ${String(x)}`);
  const [, sign, whole, fraction = '', exponent = '0'] = m;
  const digits = BigInt(whole + fraction);
  const shift = Number(exponent) - fraction.length + scale;
  let magnitude: bigint;
  let inexact = false;
  if (shift >= 0) magnitude = digits * 10n ** BigInt(shift);
  else {
    const divisor = 10n ** BigInt(-shift);
    magnitude = digits / divisor;
    inexact = digits % divisor !== 0n;
  }
  if (sign === '-') return inexact && round === 'floor' ? -magnitude - 1n : -magnitude;
  return inexact && round === 'ceil' ? magnitude + 1n : magnitude;
}

interface Range {
  /** Inclusive, in units of 10^-scale. */
  lo: bigint;
  hi: bigint;
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

function unitRange(low: number | undefined, high: number | undefined, scale: number, path: string): Range {
  const one = 10n ** BigInt(scale);
  const lo = low === undefined ? undefined : scaled(low, scale, 'ceil');
  const hi = high === undefined ? undefined : scaled(high, scale, 'floor');
  const boundDigits = [lo, hi].map((v) => (v === undefined ? 0 : (abs(v) / one).toString().length));
  const digits = Math.max(OPEN_END_DIGITS, ...boundDigits);
  let cap = 10n ** BigInt(digits) * one - 1n;
  const largest = scaled(Number.MAX_VALUE, scale, 'floor');
  if (cap > largest) cap = largest;
  const range = { lo: lo ?? -cap, hi: hi ?? cap };
  if (range.lo > range.hi) throw new UnsupportedSchema('minimum', path, 'no number satisfies the bounds');
  return range;
}

// ---------------------------------------------------------------------------------------------
// Grammar

/** A rule name, a literal or a class stays as is under a quantifier; anything else gets parentheses. */
function atom(expr: string): string {
  return /^([a-z0-9-]+|"[^"]*"|\[[^\]]*\])$/.test(expr) ? expr : `(${expr})`;
}

/** A sequence, with neighbours joined: "1" "0" → "10", [0-9] [0-9]{2} → [0-9]{3}. */
function seq(...parts: string[]): string {
  let out = '';
  for (const part of parts) {
    if (!part) continue;
    const tail = /(?:^| )"([^"]*)"$/.exec(out);
    const head = /^"([^"]*)"(?= |$)/.exec(part);
    const digitsTail = /(?:^| )\[0-9\](?:\{(\d+)\})?$/.exec(out);
    const digitsHead = /^\[0-9\](?:\{(\d+)\})?(?= |$)/.exec(part);
    if (tail && head) {
      out = `${out.slice(0, out.length - tail[1].length - 2)}"${tail[1]}${head[1]}"${part.slice(head[0].length)}`;
    } else if (digitsTail && digitsHead) {
      const count = Number(digitsTail[1] ?? 1) + Number(digitsHead[1] ?? 1);
      const kept = out.slice(0, out.length - digitsTail[0].trimStart().length);
      out = `${kept}[0-9]{${count}}${part.slice(digitsHead[0].length)}`;
    } else out = out ? `${out} ${part}` : part;
  }
  return out;
}

function digitClass(digits: number[]): string {
  if (digits.length === 1) return `"${digits[0]}"`;
  let body = '';
  for (let i = 0; i < digits.length; ) {
    let j = i;
    while (j + 1 < digits.length && digits[j + 1] === digits[j] + 1) j++;
    body += j === i ? `${digits[i]}` : j === i + 1 ? `${digits[i]}${digits[j]}` : `${digits[i]}-${digits[j]}`;
    i = j + 1;
  }
  return `[${body}]`;
}

/** `[0-9]` repeated between min and max times. */
function anyDigits(min: number, max: number): string {
  if (max === 0) return '';
  if (min === max) return min === 1 ? '[0-9]' : `[0-9]{${min}}`;
  if (min === 0 && max === 1) return '[0-9]?';
  return `[0-9]{${min},${max}}`;
}

function allZeros(s: string): boolean {
  return /^0*$/.test(s);
}

function allNines(s: string): boolean {
  return /^9*$/.test(s);
}

/**
 * Both signs of a range. Integers never get '-0'. A decimal range that holds 0 lets '-' precede a
 * zero magnitude too ('-0.0' is JSON for 0): a magnitude starting at 0 is a few rules, where one
 * starting at 10^-15 is a rule per fraction digit.
 */
function signed(rules: RuleSet, range: Range, scale: number, modulus: number, hint: string, path: string): string {
  const magnitude = (lo: bigint, hi: bigint) => new Magnitude(rules, lo, hi, scale, modulus, hint).expr();
  const alternatives: (string | null)[] = [];
  const pos = range.hi >= 0n ? { lo: range.lo > 0n ? range.lo : 0n, hi: range.hi } : undefined;
  const negZero = scale > 0 && range.hi >= 0n;
  const neg = range.lo < 0n ? { lo: range.hi < 0n ? -range.hi : negZero ? 0n : 1n, hi: -range.lo } : undefined;
  if (pos && neg && pos.lo === 0n && neg.lo === (negZero ? 0n : 1n) && neg.hi === pos.hi) {
    const rest = magnitude(neg.lo, pos.hi);
    if (negZero) alternatives.push(rest === null ? null : seq('"-"?', rest));
    else alternatives.push(magnitude(0n, 0n), rest === null ? null : seq('"-"?', rest));
  } else {
    if (pos) alternatives.push(magnitude(pos.lo, pos.hi));
    if (neg) {
      const rest = magnitude(neg.lo, neg.hi);
      alternatives.push(rest === null ? null : seq('"-"', rest));
    }
  }
  const live = alternatives.filter((a): a is string => a !== null);
  if (live.length === 0) throw new UnsupportedSchema('multipleOf', path, 'no multiple satisfies the bounds');
  if (live.length === 1 && /^[a-z0-9-]+$/.test(live[0])) return live[0];
  return rules.add(hint, live.join(' | '));
}

interface Transition {
  digit: number;
  /** [digits left, tight to the lower bound, tight to the upper bound, remainder] */
  next: [number, boolean, boolean, number];
}

/**
 * Non-negative values lo..hi (units of 10^-scale) as digit strings without leading zeros: a digit
 * automaton whose state is the digits left in the integer part, whether the digits so far equal the
 * lower or the upper bound's (tight) and the remainder modulo `modulus`, then the fraction likewise.
 */
class Magnitude {
  private readonly loInt: string;
  private readonly hiInt: string;
  private readonly loFrac: string;
  private readonly hiFrac: string;
  private readonly memo = new Map<string, string | null>();

  constructor(
    private readonly rules: RuleSet,
    private readonly lo: bigint,
    hi: bigint,
    private readonly scale: number,
    private readonly modulus: number,
    private readonly hint: string,
  ) {
    const one = 10n ** BigInt(scale);
    this.loInt = (lo / one).toString();
    this.hiInt = (hi / one).toString();
    this.loFrac = scale ? (lo % one).toString().padStart(scale, '0') : '';
    this.hiFrac = scale ? (hi % one).toString().padStart(scale, '0') : '';
  }

  expr(): string | null {
    const alternatives: string[] = [];
    let freeFrom = 0;
    let freeTo = 0;
    for (let length = this.loInt.length; length <= this.hiInt.length; length++) {
      if (this.modulus === 1 && this.freeLength(length)) {
        freeFrom ||= length;
        freeTo = length;
        continue;
      }
      const first = this.firstDigits(length);
      const e = this.alternatives(first.map((t) => [t.digit, this.intState(...t.next)]), false);
      if (e !== null) alternatives.push(e);
    }
    if (freeFrom) {
      if (freeFrom === 1 && this.lo === 0n) alternatives.unshift(seq('"0"', this.freeTail()));
      alternatives.push(seq('[1-9]', anyDigits(freeFrom - 1, freeTo - 1), this.freeTail()));
    }
    if (alternatives.length === 0) return null;
    if (alternatives.length === 1) return alternatives[0];
    return this.rules.add(this.hint, alternatives.join(' | '));
  }

  /** Distinct automaton states (rules, roughly) the integer part needs. */
  stateCount(): number {
    const seen = new Set<string>();
    const stack: Transition['next'][] = [];
    for (let length = this.loInt.length; length <= this.hiInt.length; length++) {
      stack.push(...this.firstDigits(length).map((t) => t.next));
    }
    while (stack.length) {
      const [left, tightLo, tightHi, remainder] = stack.pop()!;
      const [tl, th] = this.normalize(left, tightLo, tightHi);
      const key = `${left}:${+tl}:${+th}:${remainder}`;
      if (seen.has(key) || left === 0) continue;
      seen.add(key);
      stack.push(...this.intTransitions(left, tl, th, remainder).map((t) => t.next));
    }
    return seen.size;
  }

  /** Every digit string of this length is in range (so lengths can share one `[1-9] [0-9]{a,b}`). */
  private freeLength(length: number): boolean {
    const smallest = length === 1 ? ['0', '1'] : [`1${'0'.repeat(length - 1)}`];
    const lowOpen = length > this.loInt.length || (allZeros(this.loFrac) && smallest.includes(this.loInt));
    const highOpen = length < this.hiInt.length || (this.hiInt === '9'.repeat(length) && allNines(this.hiFrac));
    return lowOpen && highOpen;
  }

  private freeTail(): string {
    return this.scale ? `("." [0-9]{1,${this.scale}})?` : '';
  }

  private firstDigits(length: number): Transition[] {
    const tl = length === this.loInt.length;
    const th = length === this.hiInt.length;
    const loDigit = Number(this.loInt[0]);
    const hiDigit = Number(this.hiInt[0]);
    const out: Transition[] = [];
    for (let d = Math.max(length > 1 ? 1 : 0, tl ? loDigit : 0); d <= (th ? hiDigit : 9); d++) {
      out.push({ digit: d, next: [length - 1, tl && d === loDigit, th && d === hiDigit, d % this.modulus] });
    }
    return out;
  }

  /** Tightness that no longer constrains anything is dropped, so equal languages share a state. */
  private normalize(left: number, tl: boolean, th: boolean): [boolean, boolean] {
    const loRest = this.loInt.slice(this.loInt.length - left);
    const hiRest = this.hiInt.slice(this.hiInt.length - left);
    return [tl && !(allZeros(loRest) && allZeros(this.loFrac)), th && !(allNines(hiRest) && allNines(this.hiFrac))];
  }

  private intTransitions(left: number, tl: boolean, th: boolean, remainder: number): Transition[] {
    const at = (s: string) => Number(s[s.length - left]);
    const lo = tl ? at(this.loInt) : 0;
    const hi = th ? at(this.hiInt) : 9;
    const out: Transition[] = [];
    for (let d = lo; d <= hi; d++) {
      out.push({ digit: d, next: [left - 1, tl && d === lo, th && d === hi, (remainder * 10 + d) % this.modulus] });
    }
    return out;
  }

  private intState(left: number, tightLo: boolean, tightHi: boolean, remainder: number): string | null {
    const [tl, th] = this.normalize(left, tightLo, tightHi);
    const key = `i${left}:${+tl}:${+th}:${remainder}`;
    if (this.memo.has(key)) return this.memo.get(key)!;
    let e: string | null;
    if (left === 0) e = this.scale === 0 ? (remainder === 0 ? '' : null) : this.tail(tl, th);
    else if (!tl && !th && this.modulus === 1) e = seq(anyDigits(left, left), this.freeTail());
    else {
      const transitions = this.intTransitions(left, tl, th, remainder);
      e = this.alternatives(transitions.map((t) => [t.digit, this.intState(...t.next)]), false);
    }
    this.memo.set(key, e);
    return e;
  }

  /** After the integer part: an optional fraction, constrained where the integer part is tight. */
  private tail(tightLo: boolean, tightHi: boolean): string | null {
    const [tl, th] = this.fracNormalize(0, tightLo, tightHi);
    if (!tl && !th) return this.freeTail();
    const digits = this.alternatives(this.fracTransitions(0, tl, th), false);
    if (digits === null) return tl ? null : '';
    const fraction = seq('"."', digits);
    return tl ? fraction : `${atom(fraction)}?`;
  }

  private fracNormalize(at: number, tl: boolean, th: boolean): [boolean, boolean] {
    return [tl && !allZeros(this.loFrac.slice(at)), th && !allNines(this.hiFrac.slice(at))];
  }

  private fracTransitions(at: number, tl: boolean, th: boolean): [number, string | null][] {
    const lo = tl ? Number(this.loFrac[at]) : 0;
    const hi = th ? Number(this.hiFrac[at]) : 9;
    const out: [number, string | null][] = [];
    for (let d = lo; d <= hi; d++) out.push([d, this.fracState(at + 1, tl && d === lo, th && d === hi)]);
    return out;
  }

  /** Fraction digits from position `at` on (possibly none). */
  private fracState(at: number, tightLo: boolean, tightHi: boolean): string | null {
    const [tl, th] = this.fracNormalize(at, tightLo, tightHi);
    const key = `f${at}:${+tl}:${+th}`;
    if (this.memo.has(key)) return this.memo.get(key)!;
    const left = this.scale - at;
    let e: string | null;
    if (!tl && !th) e = anyDigits(0, left);
    else if (!tl && allZeros(this.hiFrac.slice(at))) e = `"0"{0,${left}}`;
    else e = this.alternatives(this.fracTransitions(at, tl, th), !tl);
    this.memo.set(key, e);
    return e;
  }

  /** Digits grouped by where they lead; `optional` when the string may also end here. */
  private alternatives(transitions: [number, string | null][], optional: boolean): string | null {
    const byNext = new Map<string, number[]>();
    for (const [digit, next] of transitions) {
      if (next === null) continue;
      const digits = byNext.get(next) ?? [];
      digits.push(digit);
      byNext.set(next, digits);
    }
    const alternatives = [...byNext].map(([next, digits]) => seq(digitClass(digits), next));
    if (alternatives.length === 0) return optional ? '' : null;
    const body = alternatives.length === 1 ? alternatives[0] : this.rules.add(this.hint, alternatives.join(' | '));
    return optional ? `${atom(body)}?` : body;
  }
}

/** Integers in range that are multiples of `step`: literals when few, else a remainder automaton. */
function multiples(rules: RuleSet, range: Range, step: bigint, path: string): string {
  // n / step is exact only for safe integers; past them a multiple's text may parse to a non-multiple
  const lo = range.lo > -MAX_SAFE ? range.lo : -MAX_SAFE;
  const hi = range.hi < MAX_SAFE ? range.hi : MAX_SAFE;
  const first = lo >= 0n ? (lo + step - 1n) / step : -(-lo / step);
  const last = hi >= 0n ? hi / step : -((-hi + step - 1n) / step);
  const count = last - first + 1n;
  if (count <= 0n) throw new UnsupportedSchema('multipleOf', path, `no multiple of ${step} satisfies the bounds`);
  const listed = () => {
    const literals: string[] = [];
    for (let k = first; k <= last; k++) literals.push(`"${k * step}"`);
    return literals.length === 1 ? literals[0] : rules.add('integer', literals.join(' | '));
  };
  if (count <= ENUMERATE_UP_TO) return listed();
  if (step <= BigInt(MAX_AUTOMATON_STATES)) {
    const modulus = Number(step);
    const sides = [
      hi >= 0n ? [lo > 0n ? lo : 0n, hi] : undefined,
      lo < 0n ? [hi < 0n ? -hi : 1n, -lo] : undefined,
    ].filter((s): s is bigint[] => s !== undefined);
    const states = sides.reduce((n, [a, b]) => n + new Magnitude(rules, a, b, 0, modulus, 'integer').stateCount(), 0);
    if (states <= MAX_AUTOMATON_STATES) return signed(rules, { lo, hi }, 0, modulus, 'integer', path);
  }
  if (count <= BigInt(MAX_ENUMERATED)) return listed();
  throw new UnsupportedSchema(
    'multipleOf',
    path,
    `multiples of ${step} over this range need more than ${MAX_AUTOMATON_STATES} grammar rules`,
  );
}
