/**
 * What compiling a JSON schema to a grammar costs (libs/llama/src/schema-grammar), on a large schema:
 * `properties` objects with numeric bounds, patterns, formats, enums and nested arrays, plus `$defs`
 * references. Prints the median compile time and the grammar's size. The worker caches compiled
 * grammars per schema, so a client sending the same schema again pays this once.
 *
 *   node dist/bench/schema-compile.js [--properties 200] [--runs 20]
 */
import { compileJsonSchema } from '@switchyard/llama';
import { fmt, median } from './bench-stats';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function largeSchema(n: number): Record<string, unknown> {
  const kinds = [
    { type: 'integer', minimum: -5000, maximum: 123456 },
    { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2,4}$' },
    { type: 'string', format: 'date-time' },
    { type: 'string', format: 'email' },
    { type: 'string', enum: ['red', 'green', 'blue'] },
    { type: 'array', items: { $ref: '#/$defs/point' }, maxItems: 8 },
    { type: ['string', 'null'], maxLength: 40 },
  ];
  const properties = Object.fromEntries(Array.from({ length: n }, (_, i) => [`field_${i}`, kinds[i % kinds.length]]));
  return {
    $defs: { point: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 999 }, y: { type: 'integer', minimum: 0, maximum: 999 } }, required: ['x', 'y'], additionalProperties: false } },
    type: 'object',
    properties,
    required: Object.keys(properties).filter((_, i) => i % 3 !== 0),
    additionalProperties: false,
  };
}

function main(): void {
  const n = arg('properties', 200);
  const runs = arg('runs', 20);
  const schema = largeSchema(n);
  const times: number[] = [];
  let size = 0;
  let rules = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const { gbnf } = compileJsonSchema(schema, { strict: true });
    times.push(performance.now() - t0);
    size = gbnf.length;
    rules = gbnf.split('\n').filter((l) => l.includes('::=')).length;
  }
  process.stdout.write(`${n} properties: compile median ${fmt(median(times), 2)} ms (first ${fmt(times[0], 2)} ms), grammar ${size} characters, ${rules} rules, ${runs} runs\n`);
}

main();
