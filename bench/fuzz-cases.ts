/**
 * Case generators for the gateway fuzzer (bench/fuzz.ts): valid baseline requests for every route,
 * then seeded mutations of their fields, bodies, headers, methods and wire format. A case is a pure
 * function of (seed, index), so `--seed S --only I` replays exactly one case.
 */

/** Model names the fuzz stack serves (see bench/fuzz.ts); --target runs must serve the same names. */
export const MODELS = {
  chat: 'fuzz-chat',
  spare: 'fuzz-spare',
  ggufEmbed: 'fuzz-gguf-embed',
  embed: 'fuzz-embed',
  moderation: 'fuzz-moderation',
  rerank: 'fuzz-rerank',
} as const;

export const VOCAB_SIZE = 1024; // the tiny GGUF shape's vocabulary

/** The largest body a case sends on purpose below the limit; a few cases go over it for the 413. */
export const BODY_BUDGET = 3 * 1024 * 1024;

export interface Keys {
  user: string;
  admin: string;
}

export interface FuzzCase {
  index: number;
  /** Route label for the report, e.g. `POST /v1/chat/completions`. */
  endpoint: string;
  /** What was mutated, for grouping failures. */
  mutation: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Raw bytes written to a socket instead of an HTTP client request (wire-level cases). */
  raw?: Buffer;
  /** Close the connection this long after the response starts (client disconnect mid-stream). */
  disconnectAfterMs?: number;
  /** Write only this many body bytes, then drop the connection (truncated upload). */
  truncateAt?: number;
}

// --- seeded randomness -----------------------------------------------------------------------

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** Sizes spread over orders of magnitude (1, 10, 1000, 100000), not clustered at the top. */
  size(max: number): number {
    return Math.max(0, Math.floor(Math.exp(this.next() * Math.log(max + 1)) - 1));
  }
}

export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ index, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// --- raw JSON fragments ------------------------------------------------------------------------

/** A piece of body text inserted verbatim: numbers JSON.stringify cannot write, deep nesting, bad bytes. */
export class Raw {
  constructor(readonly bytes: Buffer) {}
  static text(s: string): Raw {
    return new Raw(Buffer.from(s, 'utf8'));
  }
}

/** JSON with Raw pieces spliced in; returns the body bytes. */
export function serialize(value: unknown): Buffer {
  const raws: Raw[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v);
      return `\u0001RAW${raws.length - 1}\u0001`;
    }
    return v;
  });
  if (text === undefined) return Buffer.alloc(0);
  if (raws.length === 0) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  const re = /"\\u0001RAW(\d+)\\u0001"/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    parts.push(Buffer.from(text.slice(last, m.index), 'utf8'), raws[Number(m[1])].bytes);
    last = m.index + m[0].length;
  }
  parts.push(Buffer.from(text.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

// --- value generators --------------------------------------------------------------------------

const UNICODE = ['é', '漢字', '🙂', '\u202e', '\u200b', '\ufeff', '\ud800', '\udfff', '\u0000', '\n', '\\', '"', '<|im_start|>', '<|im_end|>', '</s>', '<s>', '{{', '{%', '%}', '\x1b[31m'];

function text(r: Rng, max = 64): string {
  const n = r.size(max);
  let s = '';
  while (s.length < n) s += r.chance(0.3) ? r.pick(UNICODE) : r.pick(['the', ' ', 'a', 'little', 'girl', 'ball', '.', ',', 'x', '1']);
  return s;
}

function longString(r: Rng): string {
  return r.pick(['a', 'é', '🙂', 'the ', '\u0000', ' ']).repeat(r.size(200_000) + 1);
}

/** Nesting to ~10k levels as raw text (JSON.stringify would recurse). */
function deep(r: Rng): Raw {
  const d = r.pick([64, 512, 2048, 10_000, r.size(10_000) + 1]);
  return r.chance(0.5) ? Raw.text('['.repeat(d) + ']'.repeat(d)) : Raw.text('{"a":'.repeat(d) + '1' + '}'.repeat(d));
}

/** Objects with up to ~100k keys, kept under the body budget. */
function manyKeys(r: Rng, numeric = false): Raw {
  const n = r.pick([1000, 10_000, 50_000, 100_000, r.size(100_000) + 1]);
  const keys: string[] = [];
  for (let i = 0; i < n; i++) keys.push(numeric ? `"${i}":0` : `"k${i}":${i % 7 === 0 ? 'null' : i}`);
  return Raw.text(`{${keys.join(',')}}`);
}

function hugeArray(r: Rng): Raw {
  const n = r.pick([2049, 10_000, 100_000, 300_000, r.size(300_000)]);
  const item = r.pick(['0', '1', '"a"', 'null', '[]', '{}', '-1']);
  return Raw.text(`[${Array.from({ length: n }, () => item).join(',')}]`);
}

/** Bytes that are not valid UTF-8, inside a JSON string. */
function badUtf8(r: Rng): Raw {
  const bad = r.pick([[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00]]);
  return new Raw(Buffer.concat([Buffer.from('"hi '), Buffer.from(bad), Buffer.from(' there"')]));
}

const RAW_NUMBERS = ['1e309', '-1e309', '1e-400', '-0', '123456789012345678901234567890', '0.1e1', '1E2', '00', '-', 'NaN', 'Infinity', '0x10', '.5', '+1'];

/** Any-typed oddities for a field of any kind. */
export function weird(r: Rng): unknown {
  switch (r.int(0, 33)) {
    case 0: return null;
    case 1: return true;
    case 2: return false;
    case 3: return 0;
    case 4: return -1;
    case 5: return 1.5;
    case 6: return 1e308;
    case 7: return -1e308;
    case 8: return 2 ** 53 + 2;
    case 9: return 2 ** 31;
    case 10: return 4294967296;
    case 11: return '';
    case 12: return 'a';
    case 13: return longString(r);
    case 14: return text(r, 200);
    case 15: return '\u0000';
    case 16: return '\ud800';
    case 17: return 'NaN';
    case 18: return '1';
    case 19: return [];
    case 20: return {};
    case 21: return [null];
    case 22: return [[]];
    case 23: return { a: 1 };
    case 24: return Raw.text(r.pick(RAW_NUMBERS));
    case 25: return deep(r);
    case 26: return manyKeys(r);
    case 27: return hugeArray(r);
    case 28: return badUtf8(r);
    case 29: return -0.000001;
    case 30: return Number.MAX_SAFE_INTEGER;
    case 31: return [1, 'a', null, {}];
    case 32: return { __proto__x: 1, constructor: 'x', toString: 1 };
    default: return Raw.text('{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}');
  }
}

function tokenId(r: Rng): unknown {
  return r.pick<unknown>([0, 1, 2, 5, 300, VOCAB_SIZE - 1, VOCAB_SIZE, VOCAB_SIZE + 1, 99_999, 2 ** 31, 2 ** 32, 1e15, -1, -(2 ** 31), 1.5, '1', null, Raw.text('1e309'), Raw.text('-0')]);
}

export function tokenIds(r: Rng): unknown {
  switch (r.int(0, 7)) {
    case 0: return [];
    case 1: return [tokenId(r)];
    case 2: return Array.from({ length: r.int(1, 8) }, () => tokenId(r));
    case 3: return Array.from({ length: r.int(1, 8) }, () => r.int(0, VOCAB_SIZE - 1));
    case 4: return Array.from({ length: r.pick([300, 600, 2100, 20_000]) }, () => r.int(0, VOCAB_SIZE - 1));
    case 5: return [[1, 2], [tokenId(r)]];
    case 6: return [[]];
    default: return weird(r);
  }
}

const GBNF_BITS = ['root', ' ::= ', '"a"', '"yes"', '[a-z]', '[^"]', '(', ')', '*', '+', '?', ' | ', '\\', '[^', '{1,3}', '{99999}', 'x', ' ::= x', '"\\x00"', '[\\x00-\\x7f]', '.', '\n', '"', '\\u', '#c', '[]', '""', '\\"'];

/** Valid, invalid, empty-language, EOS-only, recursive and NUL-bearing GBNF. */
export function grammar(r: Rng): { value: unknown; kind: string } {
  switch (r.int(0, 13)) {
    case 0: return { value: 'root ::= "yes" | "no"', kind: 'valid' };
    case 1: return { value: 'root ::= [a-z ]+', kind: 'valid' };
    case 2: return { value: 'root ::= ""', kind: 'eos-only' };
    case 3: return { value: 'root ::= [^\\x00-\\U0010FFFF]', kind: 'matches-nothing' };
    case 4: return { value: 'root ::= root "a"', kind: 'left-recursive' };
    case 5: return { value: 'root ::= foo', kind: 'undefined-rule' };
    case 6: return { value: 'root ::= "a"{100000}', kind: 'huge-repetition' };
    case 7: return { value: `root ::= ${'('.repeat(r.pick([100, 5000]))}"a"${')'.repeat(r.pick([100, 5000]))}`, kind: 'deep-parens' };
    case 8: return { value: r.chance(0.5) ? 'root ::= "a\u0000b"' : '\u0000', kind: 'nul' };
    case 9: return { value: 'root ::= [\\u0000-\\uffff]+', kind: 'escape-range' };
    case 10: return { value: Array.from({ length: r.int(1, 12) }, () => r.pick(GBNF_BITS)).join(''), kind: 'random-fragments' };
    case 11: return { value: `root ::= ${Array.from({ length: r.pick([500, 5000]) }, (_, i) => `"w${i}"`).join(' | ')}`, kind: 'huge-alternation' };
    case 12: return { value: 'root ::= "\\xff\\xfe" | "é" [\\U0001F600-\\U0001F64F]', kind: 'unicode' };
    default: return { value: weird(r), kind: 'weird-type' };
  }
}

/** JSON Schemas from plain to hostile: refs, recursion, depth, contradictions, huge enums. */
export function schema(r: Rng): unknown {
  switch (r.int(0, 15)) {
    case 0: return { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
    case 1: return { $ref: '#' };
    case 2: return { type: 'object', properties: { a: { $ref: '#/definitions/x' } } };
    case 3: return { $defs: { n: { type: 'object', properties: { next: { $ref: '#/$defs/n' } } } }, $ref: '#/$defs/n' };
    case 4: {
      let s: Record<string, unknown> = { type: 'string' };
      for (let i = 0; i < r.pick([50, 500, 3000]); i++) s = { type: 'object', properties: { a: s }, required: ['a'] };
      return s;
    }
    case 5: return { enum: [] };
    case 6: return { type: 'integer', minimum: 10, maximum: 1 };
    case 7: return { type: 'string', pattern: r.pick(['(', '[a-', '^(a+)+$', '\\', '\u0000']) };
    case 8: return { type: ['string', 'null', 'bogus'] };
    case 9: return { anyOf: [] };
    case 10: return { type: 'object', additionalProperties: false, required: ['x'] };
    case 11: return { enum: Array.from({ length: r.pick([1000, 20_000]) }, (_, i) => `v${i}`) };
    case 12: return { type: 'array', items: { type: 'array', items: { type: 'number' } }, minItems: 1e9 };
    case 13: return { type: 'string', minLength: 1e9, maxLength: 2 };
    case 14: return { not: {} };
    default: return weird(r);
  }
}

function tools(r: Rng): unknown {
  switch (r.int(0, 9)) {
    case 0: return [{ type: 'function', function: { name: 'f', parameters: schema(r) } }];
    case 1: return [null];
    case 2: return [{}];
    case 3: return [{ type: 'function', function: { name: r.pick(['', 'a b', '🙂', 'x'.repeat(5000), '\u0000', 'f']) } }];
    case 4: return [{ type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'f' } }];
    case 5: return Array.from({ length: r.pick([100, 2000]) }, (_, i) => ({ type: 'function', function: { name: `f${i}`, parameters: { type: 'object' } } }));
    case 6: return [{ type: 'code_interpreter' }];
    case 7: return [{ type: 'function', function: { name: 'f', parameters: weird(r) } }];
    case 8: return [{ type: 'function', function: weird(r) }];
    default: return weird(r);
  }
}

function responseFormat(r: Rng): unknown {
  switch (r.int(0, 6)) {
    case 0: return { type: 'json_object' };
    case 1: return { type: 'text' };
    case 2: return { type: 'json_schema', json_schema: { name: 'r', schema: schema(r), strict: r.chance(0.5) } };
    case 3: return { type: 'json_schema', json_schema: { name: 'r' } };
    case 4: return { type: 'json_schema', json_schema: weird(r) };
    case 5: return { type: r.pick(['bogus', '', 'JSON_OBJECT']) };
    default: return weird(r);
  }
}

function logitBias(r: Rng): unknown {
  switch (r.int(0, 9)) {
    case 0: return { '0': 100 };
    case 1: return { '-1': 1 };
    case 2: return { [String(r.pick([VOCAB_SIZE, 99_999_999, 2 ** 32, 1e20]))]: 5 };
    case 3: return { '1': r.pick([101, -101, 1e308, 0.5, -100]) };
    case 4: return { '1': '5' };
    case 5: return { '00001': 1, '1e3': 1, '': 1 };
    case 6: return manyKeys(r, true);
    case 7: return Object.fromEntries(Array.from({ length: VOCAB_SIZE }, (_, i) => [String(i), -100]));
    case 8: return Raw.text('{"__proto__":1,"1":1}');
    default: return weird(r);
  }
}

function message(r: Rng): unknown {
  switch (r.int(0, 11)) {
    case 0: return { role: 'user', content: text(r) || 'hi' };
    case 1: return { role: 'system', content: text(r) };
    case 2: return { role: 'user', content: [{ type: 'text', text: text(r) }] };
    case 3: return { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] };
    case 4: return { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: r.pick(['{}', '{', '', 'null']) } }] };
    case 5: return { role: 'tool', content: 'x', tool_call_id: r.pick(['c1', '', 'nope']) };
    case 6: return { role: 'tool', content: 'x' };
    case 7: return { role: r.pick(['bogus', '', 'USER', 'function']), content: 'x' };
    case 8: return { role: 'user', content: longString(r) };
    case 9: return { role: 'assistant', tool_calls: weird(r) };
    case 10: return { role: 'user', content: weird(r), name: weird(r) };
    default: return weird(r);
  }
}

// --- endpoints ---------------------------------------------------------------------------------

interface Baseline {
  endpoint: string;
  method: string;
  path: string;
  body?: Record<string, unknown>;
  admin?: boolean;
  /** Field name → generator of interesting values for it. */
  fields: Record<string, (r: Rng) => unknown>;
  stream?: boolean;
}

const maxTokens = (r: Rng): unknown => (r.chance(0.8) ? r.int(1, 8) : r.pick<unknown>([0, -1, 1.5, 1e9, 2 ** 31, null, '4', Raw.text('1e309')]));
const modelName = (good: string) => (r: Rng): unknown =>
  r.chance(0.7) ? good : r.pick<unknown>([MODELS.chat, MODELS.ggufEmbed, MODELS.embed, MODELS.moderation, MODELS.rerank, 'nope', '', ' ', good.toUpperCase(), `${good}\u0000`, 'x'.repeat(10_000), null, 5, ['a']]);

const sampling: Record<string, (r: Rng) => unknown> = {
  max_tokens: maxTokens,
  temperature: (r) => r.pick<unknown>([0, 0.7, 2, 2.01, -0.1, 1e308, Raw.text('1e309'), '1', null]),
  top_p: (r) => r.pick<unknown>([0, 0.5, 1, 1.1, -1, null]),
  top_k: (r) => r.pick<unknown>([0, 1, 40, 1e9, -1, 1.5, 2 ** 31]),
  min_p: (r) => r.pick<unknown>([0, 0.1, 1, 2]),
  repeat_penalty: (r) => r.pick<unknown>([0, 1, 1.1, 1e308, -1]),
  presence_penalty: (r) => r.pick<unknown>([-2, 0, 2, 3, Raw.text('-1e309')]),
  frequency_penalty: (r) => r.pick<unknown>([-2, 0, 2, -3]),
  seed: (r) => r.pick<unknown>([0, 1, -1, 2 ** 53, 1e308, 1.5, Raw.text('123456789012345678901234567890')]),
  stop: (r) => r.pick<unknown>(['\n', ['a', 'b'], ['a', 'b', 'c', 'd', 'e'], [''], [], '', ['x'.repeat(10_000)], [null], 5]),
  n: (r) => r.pick<unknown>([1, 2, 3, 0, -1, 129, 1.5]),
  stream: (r) => r.pick<unknown>([true, false, null, 'true', 1]),
  stream_options: (r) => r.pick<unknown>([{ include_usage: true }, { include_usage: 'yes' }, null, [], 'x', { bogus: 1 }]),
  logit_bias: logitBias,
  grammar: (r) => grammar(r).value,
  keep_alive: (r) => r.pick<unknown>([0, -1, '5m', '1h', 'forever', '-5m', 1e308, '', '1e309m', null]),
  user: (r) => r.pick<unknown>(['u', '', 5, longString(r)]),
};

function chatBaseline(r: Rng): Baseline {
  const body: Record<string, unknown> = { model: MODELS.chat, messages: [{ role: 'user', content: 'hi' }], max_tokens: r.int(1, 6) };
  const stream = r.chance(0.4);
  if (stream) body.stream = true;
  if (r.chance(0.3)) body.stream_options = { include_usage: true };
  if (r.chance(0.15)) body.grammar = grammar(r).value;
  if (r.chance(0.1)) body.response_format = responseFormat(r);
  if (r.chance(0.1)) body.tools = tools(r);
  if (r.chance(0.1)) body.logprobs = true;
  if (r.chance(0.1)) body.n = r.int(1, 3);
  return {
    endpoint: 'POST /v1/chat/completions',
    method: 'POST',
    path: '/v1/chat/completions',
    body,
    stream,
    fields: {
      ...sampling,
      model: modelName(MODELS.chat),
      messages: (r) => (r.chance(0.6) ? Array.from({ length: r.pick([1, 2, 3, 5000]) }, () => message(r)) : weird(r)),
      max_completion_tokens: maxTokens,
      tools,
      tool_choice: (r) => r.pick<unknown>(['none', 'auto', 'required', 'bogus', { type: 'function', function: { name: 'missing' } }, { type: 'function' }, null, 5]),
      parallel_tool_calls: (r) => r.pick<unknown>([true, 'no', null]),
      response_format: responseFormat,
      logprobs: (r) => r.pick<unknown>([true, false, 'true', 5]),
      top_logprobs: (r) => r.pick<unknown>([0, 5, 20, 21, -1, 1.5]),
      functions: (r) => r.pick<unknown>([[{ name: 'f' }], null, 'x']),
      function_call: (r) => r.pick<unknown>(['auto', { name: 'f' }]),
      reasoning_effort: (r) => r.pick<unknown>(['low', 'high', 'extreme', '', null]),
    },
  };
}

function completionBaseline(r: Rng): Baseline {
  const stream = r.chance(0.4);
  const body: Record<string, unknown> = { model: MODELS.chat, prompt: r.chance(0.7) ? 'Once upon a time' : tokenIds(r), max_tokens: r.int(1, 6) };
  if (stream) body.stream = true;
  if (r.chance(0.15)) body.grammar = grammar(r).value;
  if (r.chance(0.1)) body.logit_bias = logitBias(r);
  return {
    endpoint: 'POST /v1/completions',
    method: 'POST',
    path: '/v1/completions',
    body,
    stream,
    fields: {
      ...sampling,
      model: modelName(MODELS.chat),
      prompt: (r) => r.pick<(r: Rng) => unknown>([tokenIds, text, weird, longString, (r) => [text(r), text(r)], () => ['']])(r),
      echo: (r) => r.pick<unknown>([true, false, 'x']),
      logprobs: (r) => r.pick<unknown>([0, 1, 5, 6, -1, true]),
      best_of: (r) => r.pick<unknown>([1, 2, 0, 1e9]),
      suffix: (r) => r.pick<unknown>(['end', '', 5, longString(r)]),
    },
  };
}

function embeddingsBaseline(r: Rng): Baseline {
  const model = r.chance(0.5) ? MODELS.embed : MODELS.ggufEmbed;
  return {
    endpoint: 'POST /v1/embeddings',
    method: 'POST',
    path: '/v1/embeddings',
    body: { model, input: r.chance(0.5) ? 'the little girl' : ['a', 'b'] },
    fields: {
      model: modelName(model),
      input: (r) => r.pick<(r: Rng) => unknown>([tokenIds, text, weird, longString, (r) => Array.from({ length: r.pick([1, 10, 2048, 2049]) }, () => text(r) || 'x'), () => ['']])(r),
      encoding_format: (r) => r.pick<unknown>(['float', 'base64', 'bogus', null, 5]),
      dimensions: (r) => r.pick<unknown>([1, 8, 32, 0, -1, 65536, 65537, 1.5]),
      truncate: (r) => r.pick<unknown>([true, false, 'yes']),
      user: (r) => r.pick<unknown>(['u', 5]),
    },
  };
}

function moderationBaseline(r: Rng): Baseline {
  return {
    endpoint: 'POST /v1/moderations',
    method: 'POST',
    path: '/v1/moderations',
    body: { model: MODELS.moderation, input: r.chance(0.5) ? 'you are nice' : ['a', 'b'] },
    fields: {
      model: modelName(MODELS.moderation),
      input: (r) => r.pick<(r: Rng) => unknown>([text, weird, longString, () => [{ type: 'text', text: 'x' }], () => [{ type: 'image_url', image_url: { url: 'x' } }], () => [{ type: 'text' }], (r) => Array.from({ length: r.pick([100, 5000]) }, () => 'x')])(r),
      truncate: (r) => r.pick<unknown>([true, false, 1]),
    },
  };
}

function rerankBaseline(r: Rng): Baseline {
  const path = r.pick(['/v1/rerank', '/rerank', '/v1/reranking', '/reranking']);
  return {
    endpoint: `POST ${path}`,
    method: 'POST',
    path,
    body: { model: MODELS.rerank, query: 'ball', documents: ['a red ball', { text: 'a girl' }] },
    fields: {
      model: modelName(MODELS.rerank),
      query: (r) => r.pick<(r: Rng) => unknown>([text, weird, longString])(r),
      documents: (r) => r.pick<(r: Rng) => unknown>([weird, () => [], () => [null], () => [{ text: 5 }], (r) => Array.from({ length: r.pick([999, 1000, 1001]) }, () => 'x'), (r) => [longString(r)]])(r),
      top_n: (r) => r.pick<unknown>([0, 1, 2, 1e9, -1, 1.5]),
      return_documents: (r) => r.pick<unknown>([true, false, 'x']),
      truncate: (r) => r.pick<unknown>([true, 'no']),
    },
  };
}

function tokenBaseline(r: Rng): Baseline {
  const tokenModel = (r: Rng): unknown => (r.chance(0.3) ? undefined : modelName(MODELS.chat)(r));
  switch (r.int(0, 6)) {
    case 0:
      return { endpoint: 'POST /tokenize', method: 'POST', path: '/tokenize', body: { model: MODELS.chat, content: 'hello world' }, fields: { model: tokenModel, content: (r) => r.pick<(r: Rng) => unknown>([text, weird, longString])(r), add_special: (r) => r.pick<unknown>([true, 'x']), parse_special: (r) => r.pick<unknown>([false, 1]), with_pieces: (r) => r.pick<unknown>([true, null]) } };
    case 1:
      return { endpoint: 'POST /detokenize', method: 'POST', path: '/detokenize', body: { model: MODELS.chat, tokens: [1, 2, 3] }, fields: { model: tokenModel, tokens: tokenIds } };
    case 2:
      return { endpoint: 'POST /apply-template', method: 'POST', path: '/apply-template', body: { model: MODELS.chat, messages: [{ role: 'user', content: 'hi' }] }, fields: { model: tokenModel, messages: (r) => (r.chance(0.6) ? Array.from({ length: r.pick([1, 3, 2000]) }, () => message(r)) : weird(r)), tools } };
    case 3:
      return { endpoint: 'POST /v1/internal/encode', method: 'POST', path: '/v1/internal/encode', body: { text: 'hello' }, fields: { model: tokenModel, text: (r) => r.pick<(r: Rng) => unknown>([text, weird, longString])(r) } };
    case 4:
      return { endpoint: 'POST /v1/internal/decode', method: 'POST', path: '/v1/internal/decode', body: { tokens: [5, 6] }, fields: { model: tokenModel, tokens: tokenIds } };
    case 5:
      return { endpoint: 'POST /v1/internal/token-count', method: 'POST', path: '/v1/internal/token-count', body: { text: 'hello' }, fields: { model: tokenModel, text: (r) => r.pick<(r: Rng) => unknown>([text, weird, longString])(r) } };
    default:
      return {
        endpoint: 'POST /v1/internal/logits',
        method: 'POST',
        path: '/v1/internal/logits',
        body: { prompt: 'Once upon', top_logits: 5 },
        fields: {
          model: tokenModel,
          prompt: (r) => r.pick<(r: Rng) => unknown>([text, weird, longString])(r),
          top_logits: (r) => r.pick<unknown>([1, 50, 1000, 1001, 0, -1, 1.5]),
          use_samplers: (r) => r.pick<unknown>([true, false, 'x']),
          temperature: sampling.temperature,
          top_k: sampling.top_k,
          top_p: sampling.top_p,
          min_p: sampling.min_p,
          seed: sampling.seed,
        },
      };
  }
}

/** Ids for path parameters, raw (already URL-encoded where it matters). */
function pathId(r: Rng, good: string): string {
  return r.chance(0.5)
    ? good
    : r.pick(['nope', '%00', '%zz', '%E0%A4%A', '..%2F..%2Fetc', encodeURIComponent('🙂'), 'x'.repeat(r.pick([300, 8000])), '%20', encodeURIComponent(good.toUpperCase()), `${good}%00`, '%2e%2e', 'a%2Fb']);
}

function modelsBaseline(r: Rng): Baseline {
  if (r.chance(0.3)) return { endpoint: 'GET /v1/models', method: 'GET', path: '/v1/models', fields: {} };
  return { endpoint: 'GET /v1/models/:id', method: 'GET', path: `/v1/models/${pathId(r, r.pick(Object.values(MODELS)))}`, fields: {} };
}

function adminBaseline(r: Rng): Baseline {
  // Only the spare model is loaded and unloaded, so admin cases never take a model other cases use.
  const id = (): string => pathId(r, MODELS.spare);
  const workerField = (r: Rng): unknown => r.pick<unknown>(['worker-0', 'worker-1', 'onnx-0', 'nope', '', 5, null]);
  const args = (r: Rng): unknown =>
    r.pick<unknown>([
      { ctx_size: r.pick([16, 128, 15, 0, -1, 1.5, 1e308, 2 ** 31, 65_536]) },
      { parallel: r.pick([1, 2, 0, 257, 1e308]) },
      { threads: r.pick([1, 0, 1e308, 1.5]) },
      { gpu_layers: r.pick<unknown>(['auto', 'max', 0, -1, 'x', 1e308]) },
      { bogus: 1 },
      weird(r),
    ]);
  switch (r.int(0, 7)) {
    case 0: return { endpoint: 'GET /admin/workers', method: 'GET', path: '/admin/workers', admin: true, fields: {} };
    case 1: return { endpoint: 'GET /admin/models', method: 'GET', path: '/admin/models', admin: true, fields: {} };
    case 2: return { endpoint: 'POST /admin/models/:id/load', method: 'POST', path: `/admin/models/${id()}/load`, admin: true, body: {}, fields: { worker: workerField, args } };
    case 3: return { endpoint: 'POST /admin/models/:id/unload', method: 'POST', path: `/admin/models/${id()}/unload`, admin: true, body: { drain_ms: 0 }, fields: { worker: workerField, drain_ms: (r) => r.pick<unknown>([0, 10, -1, 1.5, 1e308, 2 ** 31, 'x', Raw.text('1e309')]) } };
    case 4: return { endpoint: 'GET /v1/internal/model/list', method: 'GET', path: '/v1/internal/model/list', admin: true, fields: {} };
    case 5: return { endpoint: 'GET /v1/internal/model/info', method: 'GET', path: '/v1/internal/model/info', admin: true, fields: {} };
    case 6: return { endpoint: 'POST /v1/internal/model/load', method: 'POST', path: '/v1/internal/model/load', admin: true, body: { model_name: MODELS.spare }, fields: { model_name: (r) => r.pick<unknown>([MODELS.spare, 'nope', '', 5, null]), args, settings: (r) => r.pick<unknown>([{}, weird(r)]) } };
    // No field generators here, so only generic mutations touch model_name; when one drops it, every
    // loaded model is unloaded (rare, and the models load again on demand).
    default: return { endpoint: 'POST /v1/internal/model/unload', method: 'POST', path: '/v1/internal/model/unload', admin: true, body: { model_name: MODELS.spare }, fields: {} };
  }
}

function miscBaseline(r: Rng): Baseline {
  switch (r.int(0, 5)) {
    case 0: return { endpoint: 'GET /health', method: 'GET', path: '/health', fields: {} };
    case 1: return { endpoint: 'unknown URL', method: r.pick(['GET', 'POST']), path: r.pick(['/', '/v1', '/v1/', '/v2/chat/completions', '/v1/chat/completions/', '/V1/MODELS', '/v1/audio/speech', '/v1/images/generations', '/v1/responses', `/${'a/'.repeat(2000)}`, '/%zz', '/v1/models/%', '/favicon.ico', '/v1/chat/completions?x=%zz']), body: {}, fields: {} };
    case 2: return { endpoint: 'wrong method', method: r.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']), path: r.pick(['/v1/chat/completions', '/v1/embeddings', '/tokenize', '/admin/models', '/health']), fields: {} };
    case 3: return { endpoint: 'wrong method', method: 'POST', path: r.pick(['/health', '/v1/models', '/admin/workers']), body: {}, fields: {} };
    case 4: return { endpoint: 'wrong method', method: r.pick(['TRACE', 'PROPFIND', 'CONNECT', 'M-SEARCH']), path: '/v1/models', fields: {} };
    default: return { endpoint: 'GET /v1/models', method: 'GET', path: `/v1/models?${'a=1&'.repeat(r.pick([10, 2000]))}`, fields: {} };
  }
}

// --- mutation ----------------------------------------------------------------------------------

const CONTENT_TYPES = ['text/plain', '', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=bogus', 'application/json; charset=latin1', 'application/vnd.api+json', 'application/json, text/plain', 'APPLICATION/JSON', 'application/json;;;', 'text/event-stream', 'application/xml'];

function auth(r: Rng, keys: Keys, admin: boolean): string | undefined {
  if (r.chance(0.88)) return `Bearer ${admin && r.chance(0.8) ? keys.admin : keys.user}`;
  return r.pick<string | undefined>([undefined, 'Bearer', 'Bearer ', `bearer ${keys.user}`, `Basic ${Buffer.from('a:b').toString('base64')}`, 'Bearer wrong-key-123456', `Bearer ${'k'.repeat(8000)}`, `Bearer ${keys.user} extra`, `Bearer  ${keys.user}  `, `Bearer ${keys.admin}\u00e9`, `Token ${keys.user}`]);
}

function mutateBody(r: Rng, b: Baseline, body: Record<string, unknown>): string[] {
  const labels: string[] = [];
  const n = r.pick([0, 1, 1, 1, 2, 3]);
  const fieldNames = Object.keys(b.fields);
  for (let i = 0; i < n; i++) {
    const op = r.int(0, 9);
    if (op <= 3 && fieldNames.length > 0) {
      const f = r.pick(fieldNames);
      body[f] = b.fields[f](r);
      labels.push(`field:${f}`);
    } else if (op <= 5 && Object.keys(body).length > 0) {
      const f = r.pick(Object.keys(body));
      body[f] = weird(r);
      labels.push(`weird:${f}`);
    } else if (op === 6 && Object.keys(body).length > 0) {
      const f = r.pick(Object.keys(body));
      delete body[f];
      labels.push(`missing:${f}`);
    } else if (op === 7) {
      body[r.pick(['bogus', '__proto__', 'constructor', '', 'model ', 'x'.repeat(1000)])] = weird(r);
      labels.push('unknown-field');
    } else if (op === 8) {
      const f = fieldNames.length > 0 && r.chance(0.5) ? r.pick(fieldNames) : 'extra';
      const shape = r.pick([deep, manyKeys, hugeArray]);
      body[f] = shape(r);
      labels.push(`structure:${shape.name}:${f}`);
    } else {
      const f = r.pick(Object.keys(body).length > 0 ? Object.keys(body) : ['x']);
      body[f] = r.chance(0.5) ? badUtf8(r) : longString(r);
      labels.push(`encoding:${f}`);
    }
  }
  return labels;
}

/** Whole-body replacements: not an object, not JSON, cut short, empty. */
function bodyShape(r: Rng, body: Buffer): { body: Buffer; label: string } {
  switch (r.int(0, 11)) {
    case 0: return { body: Buffer.from('null'), label: 'body:null' };
    case 1: return { body: Buffer.from('[]'), label: 'body:array' };
    case 2: return { body: Buffer.from('"x"'), label: 'body:string' };
    case 3: return { body: Buffer.from('42'), label: 'body:number' };
    case 4: return { body: Buffer.alloc(0), label: 'body:empty' };
    case 5: return { body: body.subarray(0, r.int(0, Math.max(0, body.length - 1))), label: 'body:truncated-json' };
    case 6: return { body: Buffer.from(`{"model": "x", ${'"a": 1, '.repeat(3)}}`), label: 'body:trailing-comma' };
    case 7: return { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]), label: 'body:bom' };
    case 8: return { body: Buffer.from(`${body.toString()}${body.toString()}`), label: 'body:concatenated' };
    case 9: return { body: Buffer.from("{'model': 'x'}"), label: 'body:single-quotes' };
    case 10: return { body: Buffer.from(r.chance(0.5) ? '\u0000' : '{"a":"\\ud800\\u0000"}'), label: 'body:nul' };
    default: return { body: Buffer.from(`{"model":${'['.repeat(100_000)}`), label: 'body:deep-unclosed' };
  }
}

/** Requests written to a socket as bytes: things an HTTP client library would refuse to send. */
function wireCase(r: Rng, host: string, keys: Keys): { raw: Buffer; label: string; path: string } {
  const body = Buffer.from(JSON.stringify({ model: MODELS.chat, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }));
  const head = (lines: string[]): Buffer => Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const std = [`Host: ${host}`, `Authorization: Bearer ${keys.user}`, 'Connection: close'];
  switch (r.int(0, 9)) {
    case 0: return { raw: Buffer.concat([head(['POST /v1/chat/completions HTTP/1.1', ...std, 'Content-Type: application/json', 'Transfer-Encoding: chunked']), Buffer.from('zz\r\nabc\r\n0\r\n\r\n')]), label: 'wire:bad-chunk', path: '/v1/chat/completions' };
    case 1: return { raw: Buffer.concat([head(['POST /v1/chat/completions HTTP/1.1', ...std, 'Content-Type: application/json', `Content-Length: ${body.length}`, 'Transfer-Encoding: chunked']), body]), label: 'wire:cl-and-te', path: '/v1/chat/completions' };
    case 2: return { raw: Buffer.concat([head(['POST /v1/chat/completions HTTP/1.0', `Host: ${host}`, `Authorization: Bearer ${keys.user}`, 'Content-Type: application/json', `Content-Length: ${body.length}`]), body]), label: 'wire:http-1.0', path: '/v1/chat/completions' };
    case 3: return { raw: head(['GET /v1/models HTTP/1.1', ...std, `X-Big: ${'a'.repeat(r.pick([8000, 20_000, 70_000]))}`]), label: 'wire:huge-header', path: '/v1/models' };
    case 4: return { raw: head(['GET /v1/models HTTP/1.1', ...std, ...Array.from({ length: r.pick([200, 3000]) }, (_, i) => `X-H${i}: v`)]), label: 'wire:many-headers', path: '/v1/models' };
    case 5: return { raw: head([`GET /v1/models/${'\u00e9\u00ff'} HTTP/1.1`, ...std]), label: 'wire:latin1-path', path: '/v1/models/:id' };
    case 6: return { raw: Buffer.concat([head(['POST /v1/chat/completions HTTP/1.1', ...std, 'Content-Type: application/json', 'Content-Length: -5']), body]), label: 'wire:negative-length', path: '/v1/chat/completions' };
    case 7: return { raw: head(['GET /v1/models HTTP/1.1', ...std, 'Authorization: Bearer second']), label: 'wire:duplicate-auth', path: '/v1/models' };
    case 8: return { raw: Buffer.from('GARBAGE\r\n\r\n'), label: 'wire:garbage', path: '/' };
    default: return { raw: Buffer.concat([head(['POST /v1/chat/completions HTTP/1.1', ...std, 'Content-Type: application/json', 'Content-Encoding: gzip', `Content-Length: ${body.length}`]), body]), label: 'wire:fake-gzip', path: '/v1/chat/completions' };
  }
}

/** Builds case `index` of the run with this seed. */
export function generateCase(seed: number, index: number, host: string, keys: Keys): FuzzCase {
  const r = new Rng(caseSeed(seed, index));
  if (r.chance(0.03)) {
    const w = wireCase(r, host, keys);
    return { index, endpoint: `wire ${w.path}`, mutation: w.label, method: 'RAW', path: w.path, headers: {}, raw: w.raw };
  }
  const family = r.next();
  const b =
    family < 0.26 ? chatBaseline(r)
    : family < 0.4 ? completionBaseline(r)
    : family < 0.5 ? embeddingsBaseline(r)
    : family < 0.56 ? moderationBaseline(r)
    : family < 0.62 ? rerankBaseline(r)
    : family < 0.77 ? tokenBaseline(r)
    : family < 0.81 ? modelsBaseline(r)
    : family < 0.92 ? adminBaseline(r)
    : miscBaseline(r);
  const labels: string[] = [];
  const headers: Record<string, string> = {};
  const a = auth(r, keys, b.admin ?? false);
  if (a !== undefined) headers.authorization = a;
  else labels.push('auth:none');
  if (a !== undefined && !a.endsWith(keys.user) && !a.endsWith(keys.admin)) labels.push('auth:bad');
  let body: Buffer | undefined;
  if (b.body) {
    const obj = { ...b.body };
    labels.push(...mutateBody(r, b, obj));
    body = serialize(obj);
    if (r.chance(0.08)) {
      const shaped = bodyShape(r, body);
      body = shaped.body;
      labels.push(shaped.label);
    }
    if (body.length > BODY_BUDGET && !r.chance(0.1)) {
      // keep most cases under MAX_BODY_BYTES so they reach validation; the rest test the 413
      body = serialize(b.body);
      labels.push('oversize-replaced');
    }
    headers['content-type'] = 'application/json';
  }
  if (r.chance(0.08)) {
    const ct = r.pick(CONTENT_TYPES);
    if (ct === '') delete headers['content-type'];
    else headers['content-type'] = ct;
    labels.push(`content-type:${ct || 'none'}`);
    if (ct.includes('utf-16') && body && r.chance(0.5)) body = Buffer.from(body.toString('utf8'), 'utf16le');
  }
  if (r.chance(0.02) && body) {
    headers['x-fuzz'] = 'h'.repeat(r.pick([1000, 15_000, 40_000]));
    labels.push('header:huge');
  }
  if (r.chance(0.02)) {
    headers.accept = r.pick(['text/event-stream', 'application/xml', '*/*;q=0', '']);
    labels.push('header:accept');
  }
  const c: FuzzCase = { index, endpoint: b.endpoint, mutation: labels.join(' ') || 'baseline', method: b.method, path: b.path, headers, body };
  if (b.stream && r.chance(0.15)) {
    c.disconnectAfterMs = r.pick([0, 5, 50, 200]);
    c.mutation += ' disconnect-mid-stream';
  }
  if (body && body.length > 10 && r.chance(0.02)) {
    c.truncateAt = r.int(1, body.length - 1);
    c.mutation += ' truncated-upload';
  }
  return c;
}
