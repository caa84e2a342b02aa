/**
 * The check after a strict structured output: the answer must validate against its schema (ajv,
 * JSON Schema 2020-12 with formats). The grammar makes that so; a failure here is a bug in the
 * grammar compiler, reported as a server error rather than handed to the client as a good answer.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

const CACHE_LIMIT = 64;
const ajv = new Ajv2020({ strict: false, allErrors: false });
addFormats(ajv);
const cache = new Map<string, ValidateFunction | null>();

function compiled(schema: Record<string, unknown>): ValidateFunction | null {
  const key = JSON.stringify(schema);
  let fn = cache.get(key);
  if (fn === undefined) {
    try {
      fn = ajv.compile(schema);
    } catch {
      // A schema ajv cannot compile (an older draft's keyword forms): the grammar still holds it.
      fn = null;
    }
    cache.set(key, fn);
    if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  }
  return fn;
}

/** What is wrong with `output` for `schema` (not JSON, or the first schema error), or undefined when it validates. */
export function schemaViolation(schema: Record<string, unknown>, output: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(output);
  } catch {
    return 'the output is not JSON';
  }
  const validate = compiled(schema);
  if (validate === null || validate(value)) return undefined;
  const e = validate.errors?.[0];
  return e ? `${e.instancePath || '/'} ${e.message ?? 'is invalid'}` : 'it does not validate';
}
