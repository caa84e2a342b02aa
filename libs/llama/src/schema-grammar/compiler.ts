/**
 * JSON Schema to GBNF: a grammar whose every output is JSON that validates against the schema, for
 * the schema language OpenAI's structured outputs accept and zod / pydantic emit. What a grammar
 * cannot enforce is collected (and, in strict mode, refused with the keyword and its path) instead of
 * being silently dropped.
 *
 * Objects keep their properties in the order written (as OpenAI does): required ones always appear,
 * optional ones may be left out, and properties not listed appear only where `additionalProperties`
 * asks for them (an unlisted key is never needed for a valid answer).
 */
import { formatGrammar } from './formats';
import { integerGrammar, numberGrammar, type NumericBounds } from './numeric';
import { patternGrammar } from './pattern';
import { gbnfLiteral, RuleSet, UnsupportedSchema } from './rules';

export { UnsupportedSchema } from './rules';

type Schema = Record<string, unknown>;

export interface CompiledSchema {
  gbnf: string;
  /** Keywords the grammar does not enforce (always empty in strict mode, which throws instead). */
  unsupported: UnsupportedSchema[];
}

/** Keywords that describe and never constrain. */
const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  '$anchor',
  '$comment',
  '$defs',
  'definitions',
  'title',
  'description',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  'discriminator',
  'strict',
  'contentMediaType',
  'contentEncoding',
]);

/** Keywords this compiler reads (per kind of value); any other keyword is unsupported. */
const HANDLED = new Set([
  'type',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'allOf',
  '$ref',
  'nullable',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'prefixItems',
  'additionalItems',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
]);

const TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'] as const;
type JsonType = (typeof TYPES)[number];

const BASE_RULES: Record<string, string> = {
  ws: '[ ]?',
  char: '[^"\\\\\\x7F\\x00-\\x1F] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4})',
  string: '"\\"" char* "\\""',
  integer: '"-"? ("0" | [1-9] [0-9]{0,15})',
  number: '"-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,15})? ([eE] [-+]? [0-9]{1,3})?',
  boolean: '"true" | "false"',
  null: '"null"',
  value: 'object | array | string | number | boolean | null',
  object: '"{" ws (string ws ":" ws value ("," ws string ws ":" ws value)*)? ws "}"',
  array: '"[" ws (value ("," ws value)*)? ws "]"',
};

/** The base rules each base rule refers to. */
const BASE_DEPENDS: Partial<Record<keyof typeof BASE_RULES, Array<keyof typeof BASE_RULES>>> = {
  string: ['char'],
  value: ['object', 'array', 'string', 'number', 'boolean', 'null'],
  object: ['ws', 'string', 'value'],
  array: ['ws', 'value'],
};

function isObject(x: unknown): x is Schema {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function pointerPart(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

class Compiler {
  readonly rules = new RuleSet();
  readonly unsupported: UnsupportedSchema[] = [];
  private readonly refs = new Map<string, string>();
  private readonly base = new Set<string>();

  constructor(
    private readonly root: unknown,
    private readonly strict: boolean,
  ) {}

  /** A shared building block (`value`, `string`, `ws`, ...), defined once with the rules it uses. */
  baseRule(name: keyof typeof BASE_RULES): string {
    if (!this.base.has(name)) {
      this.base.add(name);
      this.rules.fixed(name, BASE_RULES[name]);
      for (const used of BASE_DEPENDS[name] ?? []) this.baseRule(used);
    }
    return name;
  }

  /** Unsupported: refused in strict mode, recorded (and not enforced) otherwise. */
  private cannot(keyword: string, path: string, detail?: string): void {
    const err = new UnsupportedSchema(keyword, path, detail);
    if (this.strict) throw err;
    this.unsupported.push(err);
  }

  /** A GBNF expression for the values `schema` accepts. */
  visit(schema: unknown, path: string): string {
    if (schema === true || (isObject(schema) && Object.keys(schema).every((k) => ANNOTATIONS.has(k)))) return this.baseRule('value');
    if (schema === false) throw new UnsupportedSchema('false', path, 'no value satisfies this schema');
    if (!isObject(schema)) throw new UnsupportedSchema('type', path, 'a schema must be an object or a boolean');
    for (const key of Object.keys(schema)) {
      if (!ANNOTATIONS.has(key) && !HANDLED.has(key)) this.cannot(key, `${path}/${pointerPart(key)}`);
    }
    if (typeof schema.$ref === 'string') {
      const rest = Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$ref' && !ANNOTATIONS.has(k)));
      if (Object.keys(rest).length === 0) return this.ref(schema.$ref, `${path}/$ref`);
      return this.visit({ allOf: [{ $ref: schema.$ref }, rest] }, path);
    }
    if (schema.nullable === true) {
      const rest = { ...schema };
      delete rest.nullable;
      return this.alternatives([this.visit(rest, path), this.baseRule('null')]);
    }
    if (Array.isArray(schema.allOf)) return this.visit(this.mergeAllOf(schema, path), path);
    if (schema.const !== undefined) return gbnfLiteral(JSON.stringify(schema.const));
    if (Array.isArray(schema.enum)) {
      if (schema.enum.length === 0) throw new UnsupportedSchema('enum', `${path}/enum`, 'an empty enum allows no value');
      return this.alternatives(schema.enum.map((v) => gbnfLiteral(JSON.stringify(v))));
    }
    for (const key of ['anyOf', 'oneOf'] as const) {
      const branches = schema[key];
      if (!Array.isArray(branches)) continue;
      if (branches.length === 0) throw new UnsupportedSchema(key, `${path}/${key}`, 'no branches');
      // Keywords beside anyOf apply to every branch (zod and pydantic put `type` or nothing there).
      const rest = Object.fromEntries(Object.entries(schema).filter(([k]) => k !== key && !ANNOTATIONS.has(k)));
      return this.alternatives(branches.map((b, i) => this.visit(Object.keys(rest).length > 0 && isObject(b) ? { ...rest, ...b } : b, `${path}/${key}/${i}`)));
    }
    const types = this.types(schema, path);
    return this.alternatives(types.map((t) => this.typed(t, schema, path)));
  }

  private alternatives(options: string[]): string {
    const unique = [...new Set(options)];
    return unique.length === 1 ? unique[0] : `(${unique.join(' | ')})`;
  }

  private types(schema: Schema, path: string): JsonType[] {
    const t = schema.type;
    if (typeof t === 'string') {
      if (!(TYPES as readonly string[]).includes(t)) throw new UnsupportedSchema('type', `${path}/type`, `unknown type '${t}'`);
      return [t as JsonType];
    }
    if (Array.isArray(t)) {
      for (const x of t) if (!(TYPES as readonly unknown[]).includes(x)) throw new UnsupportedSchema('type', `${path}/type`, `unknown type '${String(x)}'`);
      return t as JsonType[];
    }
    // No type: the kinds of value the other keywords describe, or any value.
    const inferred: JsonType[] = [];
    if (['properties', 'additionalProperties', 'required'].some((k) => k in schema)) inferred.push('object');
    if (['items', 'prefixItems', 'minItems', 'maxItems'].some((k) => k in schema)) inferred.push('array');
    if (['minLength', 'maxLength', 'pattern', 'format'].some((k) => k in schema)) inferred.push('string');
    if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'].some((k) => k in schema)) inferred.push('number');
    return inferred.length > 0 ? inferred : [...TYPES];
  }

  private typed(type: JsonType, schema: Schema, path: string): string {
    switch (type) {
      case 'null':
        return this.baseRule('null');
      case 'boolean':
        return this.baseRule('boolean');
      case 'integer':
      case 'number':
        return this.numeric(type, schema, path);
      case 'string':
        return this.string(schema, path);
      case 'array':
        return this.array(schema, path);
      case 'object':
        return this.object(schema, path);
    }
  }

  private numeric(type: 'integer' | 'number', schema: Schema, path: string): string {
    const bounds: NumericBounds = {};
    for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'] as const) {
      const v = schema[key];
      if (typeof v === 'number' || (typeof v === 'boolean' && (key === 'exclusiveMinimum' || key === 'exclusiveMaximum'))) (bounds as Record<string, unknown>)[key] = v;
    }
    if (Object.keys(bounds).length === 0) return this.baseRule(type);
    try {
      return type === 'integer' ? integerGrammar(this.rules, bounds, path) : numberGrammar(this.rules, bounds, path);
    } catch (err) {
      if (!(err instanceof UnsupportedSchema) || this.strict) throw err;
      this.unsupported.push(err);
      return this.baseRule(type);
    }
  }

  private string(schema: Schema, path: string): string {
    const min = typeof schema.minLength === 'number' ? Math.max(0, Math.ceil(schema.minLength)) : 0;
    const max = typeof schema.maxLength === 'number' ? Math.floor(schema.maxLength) : undefined;
    if (max !== undefined && max < min) throw new UnsupportedSchema('maxLength', `${path}/maxLength`, 'shorter than minLength');
    const lengths = min > 0 || max !== undefined;
    const quote = '"\\""';
    const constrained = (keyword: 'format' | 'pattern', make: () => string): string | undefined => {
      try {
        const contents = make();
        // A length limit on top of a format would need their intersection (a pattern narrows itself).
        if (lengths && keyword === 'format') this.cannot(min > 0 ? 'minLength' : 'maxLength', path, `together with '${keyword}'`);
        return this.rules.add(`${keyword}`, `${quote} ${contents} ${quote}`);
      } catch (err) {
        if (!(err instanceof UnsupportedSchema) || this.strict) throw err;
        this.unsupported.push(err);
        return undefined;
      }
    };
    // Both at once would need their intersection: the format is enforced, the pattern is not.
    if (typeof schema.format === 'string' && typeof schema.pattern === 'string') this.cannot('pattern', `${path}/pattern`, "together with 'format'");
    if (typeof schema.format === 'string') {
      const rule = constrained('format', () => formatGrammar(this.rules, schema.format as string, `${path}/format`));
      if (rule !== undefined) return rule;
    }
    if (typeof schema.pattern === 'string') {
      const bounds = lengths ? { min, max: max ?? Infinity, keyword: min > 0 ? 'minLength' : 'maxLength', path } : undefined;
      const rule = constrained('pattern', () => patternGrammar(this.rules, schema.pattern as string, `${path}/pattern`, bounds));
      if (rule !== undefined) return rule;
    }
    if (!lengths) return this.baseRule('string');
    this.baseRule('char');
    const count = max === undefined ? (min === 0 ? '*' : `{${min},}`) : `{${min},${max}}`;
    return this.rules.add(`string-${min}-${max ?? 'up'}`, `${quote} char${count} ${quote}`);
  }

  private array(schema: Schema, path: string): string {
    const ws = this.baseRule('ws');
    // A tuple: 2020-12's prefixItems + items, or the older items array + additionalItems.
    const tupleKey = Array.isArray(schema.prefixItems) ? 'prefixItems' : Array.isArray(schema.items) ? 'items' : undefined;
    const prefix = tupleKey === undefined ? [] : (schema[tupleKey] as unknown[]).map((s, i) => this.visit(s, `${path}/${tupleKey}/${i}`));
    const itemsKeyword = tupleKey === 'items' ? schema.additionalItems : schema.items;
    // After the prefix: `items` (a schema), none (`items: false`), or anything.
    const restPath = `${path}/${tupleKey === 'items' ? 'additionalItems' : 'items'}`;
    const rest = itemsKeyword === false ? undefined : itemsKeyword === undefined || itemsKeyword === true ? this.baseRule('value') : this.visit(itemsKeyword, restPath);
    const minItems = typeof schema.minItems === 'number' ? Math.max(0, Math.ceil(schema.minItems)) : 0;
    const maxItems = typeof schema.maxItems === 'number' ? Math.floor(schema.maxItems) : undefined;
    if (maxItems !== undefined && maxItems < minItems) throw new UnsupportedSchema('maxItems', `${path}/maxItems`, 'fewer than minItems');
    if (rest === undefined && minItems > prefix.length) throw new UnsupportedSchema('minItems', `${path}/minItems`, 'more items than prefixItems allows');
    const sep = `"," ${ws}`;
    const repeat = (min: number, max: number | undefined): string =>
      max === undefined ? (min === 0 ? '*' : min === 1 ? '+' : `{${min},}`) : min === max ? `{${min}}` : `{${min},${max}}`;
    // The items from index i on, i written already (each after the first comes with its comma).
    const from = (i: number): string => {
      if (maxItems !== undefined && i >= maxItems) return '';
      if (i >= prefix.length) {
        if (rest === undefined) return '';
        const least = Math.max(0, minItems - i);
        const most = maxItems === undefined ? undefined : maxItems - i;
        if (i > 0) return `(${sep} ${rest})${repeat(least, most)}`;
        const more = most === 1 ? '' : ` (${sep} ${rest})${repeat(Math.max(0, least - 1), most === undefined ? undefined : most - 1)}`;
        const list = `${rest}${more}`;
        return least >= 1 ? list : `(${list})?`;
      }
      const item = `${i > 0 ? `${sep} ` : ''}${prefix[i]} ${from(i + 1)}`.trim();
      return i >= minItems ? `(${item})?` : item;
    };
    return this.rules.add('array', `"[" ${ws} ${from(0)} ${ws} "]"`.replace(/\s+/g, ' '));
  }

  private object(schema: Schema, path: string): string {
    const ws = this.baseRule('ws');
    const props = isObject(schema.properties) ? Object.entries(schema.properties) : [];
    const required = new Set(Array.isArray(schema.required) ? (schema.required as unknown[]).filter((x): x is string => typeof x === 'string') : []);
    for (const name of required) {
      if (!props.some(([k]) => k === name)) props.push([name, true]);
    }
    const additional = schema.additionalProperties;
    const extra = additional === true ? this.baseRule('value') : isObject(additional) ? this.visit(additional, `${path}/additionalProperties`) : undefined;
    const pairs = props.map(([key, sub]) => `${gbnfLiteral(JSON.stringify(key))} ${ws} ":" ${ws} ${this.visit(sub, `${path}/properties/${pointerPart(key)}`)}`);
    const extraPair = extra === undefined ? undefined : `${this.baseRule('string')} ${ws} ":" ${ws} ${extra}`;
    const sep = `"," ${ws}`;
    // Each step is a rule of its own, referring to the next: the grammar grows with the number of
    // properties, not with its square. later(i): the properties from i on, one already written (so
    // each comes with its comma); first(i): the same with none written yet.
    let later = extraPair === undefined ? '' : this.rules.add('obj-extra', `(${sep} ${extraPair})*`);
    const laterAt: string[] = new Array<string>(props.length + 1);
    laterAt[props.length] = later;
    for (let i = props.length - 1; i >= 0; i--) {
      const item = `${sep} ${pairs[i]}`;
      const body = `${required.has(props[i][0]) ? item : `(${item})?`} ${laterAt[i + 1]}`.trim();
      later = this.rules.add('obj-rest', body);
      laterAt[i] = later;
    }
    let first = extraPair === undefined ? '' : `(${extraPair} (${sep} ${extraPair})*)?`;
    for (let i = props.length - 1; i >= 0; i--) {
      const withThis = `${pairs[i]} ${laterAt[i + 1]}`.trim();
      if (required.has(props[i][0])) first = withThis;
      else first = first === '' ? `(${withThis})?` : `(${withThis} | ${this.rules.add('obj-from', first)})`;
    }
    return this.rules.add('object', `"{" ${ws} ${first} ${ws} "}"`.replace(/\s+/g, ' '));
  }

  private resolvePointer(ref: string, path: string): unknown {
    if (!ref.startsWith('#')) throw new UnsupportedSchema('$ref', path, `only references inside the schema ('#...') are followed, not '${ref}'`);
    let node: unknown = this.root;
    for (const raw of ref.slice(1).split('/').slice(1)) {
      const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      if (!isObject(node) && !Array.isArray(node)) throw new UnsupportedSchema('$ref', path, `'${ref}' does not resolve`);
      node = (node as Record<string, unknown>)[part];
      if (node === undefined) throw new UnsupportedSchema('$ref', path, `'${ref}' does not resolve`);
    }
    return node;
  }

  private ref(ref: string, path: string): string {
    const known = this.refs.get(ref);
    if (known !== undefined) return known;
    const target = this.resolvePointer(ref, path);
    // Reserved before the target is compiled, so a definition can refer to itself.
    const name = this.rules.reserve(`ref-${ref.split('/').pop() ?? 'root'}`);
    this.refs.set(ref, name);
    this.rules.define(name, this.visit(target, ref.slice(1)));
    return name;
  }

  /** allOf's schemas as one (objects merged; the same keyword twice must agree). */
  private mergeAllOf(schema: Schema, path: string): Schema {
    const merged: Schema = {};
    // additionalProperties sees only its own schema's properties: a closed part allows just those.
    const closed: Array<Set<string>> = [];
    const parts: unknown[] = [Object.fromEntries(Object.entries(schema).filter(([k]) => k !== 'allOf')), ...(schema.allOf as unknown[])];
    for (const [i, raw] of parts.entries()) {
      let part = raw;
      while (isObject(part) && typeof part.$ref === 'string' && Object.keys(part).filter((k) => !ANNOTATIONS.has(k)).length === 1) part = this.resolvePointer(part.$ref, `${path}/allOf/${i}`);
      if (part === true) continue;
      if (!isObject(part)) throw new UnsupportedSchema('allOf', `${path}/allOf/${i}`, 'a branch that allows nothing');
      if (Array.isArray(part.allOf)) part = this.mergeAllOf(part, `${path}/allOf/${i}`);
      const own = part as Schema;
      if (own.additionalProperties !== undefined && own.additionalProperties !== true) {
        if (own.additionalProperties !== false) throw new UnsupportedSchema('allOf', `${path}/allOf/${i}`, "an additionalProperties schema beside other branches' properties");
        closed.push(new Set(isObject(own.properties) ? Object.keys(own.properties) : []));
      }
      for (const [key, value] of Object.entries(own)) {
        if (ANNOTATIONS.has(key) || key === 'additionalProperties') continue;
        if (key === 'properties' && isObject(value)) merged.properties = { ...(isObject(merged.properties) ? merged.properties : {}), ...value };
        else if (key === 'required' && Array.isArray(value)) merged.required = [...new Set([...((merged.required as unknown[]) ?? []), ...value])];
        else if (merged[key] === undefined) merged[key] = value;
        else if (JSON.stringify(merged[key]) !== JSON.stringify(value)) {
          // Two different values of one keyword: their intersection is not computed.
          throw new UnsupportedSchema('allOf', `${path}/allOf/${i}`, `'${key}' differs between branches`);
        }
      }
    }
    if (closed.length > 0) {
      const allowed = (name: string): boolean => closed.every((set) => set.has(name));
      for (const name of (merged.required as string[] | undefined) ?? []) {
        if (!allowed(name)) throw new UnsupportedSchema('allOf', `${path}/allOf`, `'${name}' is required, but a branch with additionalProperties: false does not list it: no object satisfies both`);
      }
      if (isObject(merged.properties)) merged.properties = Object.fromEntries(Object.entries(merged.properties).filter(([name]) => allowed(name)));
      merged.additionalProperties = false;
    }
    return merged;
  }
}

/**
 * The grammar for `schema`. With `strict`, a keyword that cannot be enforced throws UnsupportedSchema
 * (the client's 400, naming the keyword and its path); without, it is skipped and listed.
 */
export function compileJsonSchema(schema: unknown, options: { strict: boolean }): CompiledSchema {
  const c = new Compiler(schema, options.strict);
  const root = c.visit(schema, '');
  return { gbnf: c.rules.grammar(root), unsupported: c.unsupported };
}
