import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { compileJsonSchema, UnsupportedSchema } from './compiler';
import { acceptsGbnf, sampleGbnf } from './gbnf-sampler';
import { rng as prng } from './regular-gbnf';

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

/** Samples `n` outputs of the schema's grammar; every one must parse and validate. Returns them parsed. */
function samples(schema: Record<string, unknown>, n = 150, seed = 1): unknown[] {
  const { gbnf } = compileJsonSchema(schema, { strict: true });
  const validate = ajv.compile(schema);
  const random = prng(seed);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const text = sampleGbnf(gbnf, random);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`sample ${i} is not JSON: ${text}\n${gbnf}`);
    }
    if (!validate(value)) throw new Error(`sample ${i} does not validate: ${text}\n${JSON.stringify(validate.errors)}\n${gbnf}`);
    out.push(value);
  }
  return out;
}

const accepts = (schema: Record<string, unknown>, text: string): boolean => acceptsGbnf(compileJsonSchema(schema, { strict: true }).gbnf, text);

describe('compileJsonSchema', () => {
  it('keeps numeric bounds: the issue’s age/score/count object', () => {
    const schema = {
      type: 'object',
      properties: {
        age: { type: 'integer', minimum: 18, maximum: 65 },
        score: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        count: { type: 'integer', minimum: -2100, exclusiveMaximum: 0 },
      },
      required: ['age', 'score', 'count'],
      additionalProperties: false,
    };
    const values = samples(schema, 300) as Array<{ age: number; score: number; count: number }>;
    expect(new Set(values.map((v) => v.age)).size).toBeGreaterThan(10);
    expect(accepts(schema, '{"age":17,"score":0.5,"count":-1}')).toBe(false);
    expect(accepts(schema, '{"age":18,"score":0,"count":-1}')).toBe(false);
    expect(accepts(schema, '{"age":65,"score":1,"count":-2100}')).toBe(true);
    expect(accepts(schema, '{"age":65,"score":1,"count":-2100,"x":1}')).toBe(false);
  });

  it('a pattern with minLength/maxLength (what zod emits for .min().max().regex()) keeps both', () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 2, maxLength: 8, pattern: '^[A-Z][a-z]+$' },
        loose: { type: 'string', minLength: 3, maxLength: 5, pattern: '[0-9]' },
        code: { type: 'string', maxLength: 10, pattern: '^[A-Z]{3}-[0-9]{2}$' },
      },
      required: ['name', 'loose', 'code'],
      additionalProperties: false,
    };
    const values = samples(schema, 300) as Array<{ name: string; loose: string }>;
    expect(new Set(values.map((v) => v.name.length)).size).toBeGreaterThan(3);
    expect(accepts(schema, '{"name":"Abcdefgh","loose":"ab1","code":"ABC-12"}')).toBe(true);
    expect(accepts(schema, '{"name":"Abcdefghi","loose":"ab1","code":"ABC-12"}')).toBe(false);
    expect(accepts(schema, '{"name":"A","loose":"ab1","code":"ABC-12"}')).toBe(false);
    expect(accepts(schema, '{"name":"Ab","loose":"12","code":"ABC-12"}')).toBe(false);
    // No string of the pattern fits the lengths, or a shape the length cannot be spread over: strict says so.
    expect(() => compileJsonSchema({ type: 'string', maxLength: 4, pattern: '^[a-z]{5}$' }, { strict: true })).toThrow(UnsupportedSchema);
    expect(() => compileJsonSchema({ type: 'string', maxLength: 4, pattern: '^(ab|c)+$' }, { strict: true })).toThrow(/maxLength/);
  });

  it('patterns and formats inside objects', () => {
    const schema = {
      type: 'object',
      properties: {
        code: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2}$' },
        id: { type: 'string', format: 'uuid' },
        email: { type: 'string', format: 'email' },
        when: { type: 'string', format: 'date-time' },
        day: { type: 'string', format: 'date' },
      },
      required: ['code', 'id', 'email', 'when', 'day'],
      additionalProperties: false,
    };
    samples(schema, 200);
    expect(accepts(schema, '{"code":"free text","id":"","email":"","when":"","day":""}')).toBe(false);
  });

  it('string lengths, also on a nullable string (type array)', () => {
    const schema = { type: 'object', properties: { nick: { type: ['string', 'null'], minLength: 2, maxLength: 5 } }, required: ['nick'], additionalProperties: false };
    const values = samples(schema, 300) as Array<{ nick: string | null }>;
    expect(values.some((v) => v.nick === null)).toBe(true);
    expect(values.some((v) => typeof v.nick === 'string')).toBe(true);
    expect(accepts(schema, '{"nick":"abcdef"}')).toBe(false);
    expect(accepts(schema, '{"nick":"a\\u00e9c"}')).toBe(true);
  });

  it('optional properties may be left out, in any combination, keeping the written order', () => {
    const schema = {
      type: 'object',
      properties: { a: { const: 1 }, b: { const: 2 }, c: { const: 3 }, d: { const: 4 } },
      required: ['a', 'c'],
      additionalProperties: false,
    };
    const seen = new Set((samples(schema, 300) as object[]).map((v) => Object.keys(v).join('')));
    expect(seen).toEqual(new Set(['ac', 'abc', 'acd', 'abcd']));
    expect(accepts(schema, '{"c":3,"a":1}')).toBe(false);
    const none = { type: 'object', properties: { x: { type: 'boolean' }, y: { type: 'null' } }, additionalProperties: false };
    expect(new Set((samples(none, 300) as object[]).map((v) => Object.keys(v).join('')))).toEqual(new Set(['', 'x', 'y', 'xy']));
  });

  it('arrays: items with bounds, minItems/maxItems, prefixItems tuples', () => {
    const list = { type: 'array', items: { type: 'integer', minimum: -5, maximum: 5 }, minItems: 2, maxItems: 4 };
    const lengths = new Set((samples(list, 300) as unknown[][]).map((v) => v.length));
    expect(lengths).toEqual(new Set([2, 3, 4]));
    expect(accepts(list, '[1]')).toBe(false);
    expect(accepts(list, '[1,2,3,4,5]')).toBe(false);
    const tuple = { type: 'array', prefixItems: [{ type: 'string', maxLength: 3 }, { type: 'boolean' }], items: false, minItems: 1 };
    expect(new Set((samples(tuple, 200) as unknown[][]).map((v) => v.length))).toEqual(new Set([1, 2]));
    expect(accepts(tuple, '["a",true,1]')).toBe(false);
    const open = { type: 'array', prefixItems: [{ const: 'head' }], items: { type: 'integer', minimum: 0, maximum: 9 }, maxItems: 3 };
    samples(open, 200);
    expect(accepts(open, '["head",1,2,3]')).toBe(false);
  });

  it('$ref with $defs, recursive', () => {
    const schema = {
      $defs: {
        node: {
          type: 'object',
          properties: { value: { type: 'integer', minimum: 0, maximum: 99 }, children: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } },
          required: ['value'],
          additionalProperties: false,
        },
      },
      $ref: '#/$defs/node',
    };
    const values = samples(schema, 200) as Array<{ children?: unknown[] }>;
    expect(values.some((v) => (v.children?.length ?? 0) > 0)).toBe(true);
    // pydantic's older `definitions` and a $ref to the root itself.
    const list = { title: 'List', type: 'object', properties: { next: { anyOf: [{ $ref: '#' }, { type: 'null' }] }, n: { type: 'integer' } }, required: ['next', 'n'], additionalProperties: false };
    samples(list, 100);
    const pydantic = {
      definitions: { Pet: { title: 'Pet', type: 'object', properties: { kind: { enum: ['cat', 'dog'] } }, required: ['kind'] } },
      type: 'object',
      properties: { pets: { type: 'array', items: { $ref: '#/definitions/Pet' } } },
      required: ['pets'],
    };
    samples(pydantic, 100);
  });

  it('anyOf of objects, oneOf, enum, const, allOf merged', () => {
    const union = {
      anyOf: [
        { type: 'object', properties: { kind: { const: 'circle' }, r: { type: 'number', minimum: 0, maximum: 10 } }, required: ['kind', 'r'], additionalProperties: false },
        { type: 'object', properties: { kind: { const: 'square' }, side: { type: 'integer', minimum: 1, maximum: 3 } }, required: ['kind', 'side'], additionalProperties: false },
      ],
    };
    const kinds = new Set((samples(union, 200) as Array<{ kind: string }>).map((v) => v.kind));
    expect(kinds).toEqual(new Set(['circle', 'square']));
    samples({ oneOf: [{ type: 'integer', minimum: 0, maximum: 9 }, { type: 'string', maxLength: 2 }] }, 100);
    expect(new Set(samples({ enum: ['a', 1, null, { x: [true] }] }, 100).map((v) => JSON.stringify(v)))).toEqual(new Set(['"a"', '1', 'null', '{"x":[true]}']));
    const merged = {
      allOf: [
        { type: 'object', properties: { a: { type: 'string', maxLength: 2 } }, required: ['a'] },
        { properties: { b: { type: 'integer', minimum: 1, maximum: 2 } }, required: ['b'] },
      ],
    };
    for (const v of samples(merged, 100) as object[]) expect(Object.keys(v)).toEqual(['a', 'b']);
    // additionalProperties sees only its own properties: closed beside allOf, a required 'a' is impossible.
    expect(() => compileJsonSchema({ ...merged, additionalProperties: false }, { strict: true })).toThrow(UnsupportedSchema);
    // A closed branch keeps the properties it lists.
    const closedBranch = { allOf: [{ type: 'object', properties: { a: { const: 1 }, b: { const: 2 } }, additionalProperties: false }, { properties: { b: { const: 2 }, c: { const: 3 } } }] };
    for (const v of samples(closedBranch, 100) as object[]) expect(Object.keys(v).every((k) => k === 'a' || k === 'b')).toBe(true);
  });

  it('additionalProperties as a schema, and the any-value schema', () => {
    const map = { type: 'object', additionalProperties: { type: 'integer', minimum: 0, maximum: 3 } };
    samples(map, 150);
    expect(accepts(map, '{"x":4}')).toBe(false);
    const any = samples({}, 200);
    expect(new Set(any.map((v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v))).size).toBeGreaterThanOrEqual(5);
    // OpenAPI 3.0's nullable.
    expect(new Set(samples({ type: 'integer', minimum: 1, maximum: 1, nullable: true }, 100))).toEqual(new Set([1, null]));
  });

  it('grows linearly with the number of optional properties', () => {
    const wide = (n: number): Record<string, unknown> => ({
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, { type: 'integer', minimum: 0, maximum: i + 1 }])),
      required: Array.from({ length: n }, (_, i) => `p${i}`).filter((_, i) => i % 2 === 0),
      additionalProperties: false,
    });
    const size = (n: number): number => compileJsonSchema(wide(n), { strict: true }).gbnf.length;
    expect(size(400) / size(100)).toBeLessThan(6);
    samples(wide(12), 100);
  });

  it('strict: an unenforceable keyword is refused with the keyword and its path', () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ type: 'object', properties: { a: { not: { type: 'string' } } } }, 'not', '/properties/a/not'],
      [{ type: 'array', items: { type: 'integer' }, uniqueItems: true }, 'uniqueItems', '/uniqueItems'],
      [{ type: 'object', patternProperties: { '^x': { type: 'integer' } } }, 'patternProperties', '/patternProperties'],
      [{ if: { type: 'string' }, then: { maxLength: 2 } }, 'if', '/if'],
      [{ type: 'object', properties: { p: { type: 'string', pattern: '^(?=a).*$' } } }, 'pattern', '/properties/p/pattern'],
      [{ type: 'string', format: 'no-such-format' }, 'format', '/format'],
      [{ type: 'object', minProperties: 2 }, 'minProperties', '/minProperties'],
      [{ type: 'string', format: 'date', pattern: '^2' }, 'pattern', '/pattern'],
      [{ $ref: 'https://example.com/schema.json' }, '$ref', '/$ref'],
    ];
    for (const [schema, keyword, path] of cases) {
      let err: unknown;
      try {
        compileJsonSchema(schema, { strict: true });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsupportedSchema);
      expect(err).toMatchObject({ keyword, path });
    }
  });

  it('not strict: what cannot be enforced is listed, the rest still enforced', () => {
    const schema = { type: 'object', properties: { a: { type: 'integer', minimum: 0, maximum: 5 }, tags: { type: 'array', items: { type: 'string', maxLength: 3 }, uniqueItems: true, maxItems: 2 } }, required: ['a', 'tags'], additionalProperties: false };
    const { gbnf, unsupported } = compileJsonSchema(schema, { strict: false });
    expect(unsupported.map((u) => [u.keyword, u.path])).toEqual([['uniqueItems', '/properties/tags/uniqueItems']]);
    const random = prng(3);
    for (let i = 0; i < 100; i++) {
      const v = JSON.parse(sampleGbnf(gbnf, random)) as { a: number; tags: string[] };
      expect(v.a).toBeGreaterThanOrEqual(0);
      expect(v.a).toBeLessThanOrEqual(5);
      expect(v.tags.length).toBeLessThanOrEqual(2);
    }
  });
});
