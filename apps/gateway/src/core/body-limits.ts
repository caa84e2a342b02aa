/**
 * Bounds on the shape of a parsed JSON body, checked right after parsing and before validation: how
 * deep it nests, how many keys one object has, how many items one array has. One iterative walk,
 * linear in the body, so neither a deep body (recursion in the validation pipe overflowed the stack)
 * nor a huge object or array (seconds of event loop per request) reaches the DTO validation.
 */
import { OpenAIError } from './openai-error';

/** Deeper than any request of the API needs (a JSON Schema of tool parameters included). */
export const MAX_JSON_DEPTH = 64;
/** Keys of one object: `logit_bias`, a schema's `properties`, `metadata` (OpenAI caps logit_bias at 300). */
export const MAX_OBJECT_KEYS = 4096;
/** Items of one array; token arrays (a prompt as token ids, an embeddings input) are the long ones. */
export const MAX_ARRAY_ITEMS = 262_144;
/** Tighter bounds for known top-level arrays of objects. */
export const MAX_FIELD_ITEMS: Readonly<Record<string, number>> = { messages: 4096, tools: 1024 };

type Frame = { value: object; path: string; depth: number };

function limit(path: string, message: string): OpenAIError {
  return OpenAIError.badRequest(`Invalid '${path || 'body'}': ${message}.`, path || null, 'invalid_value');
}

/** The first bound the body breaks, as the 400 to answer, or undefined when it is within them all. */
export function checkBodyLimits(body: unknown): OpenAIError | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const stack: Frame[] = [{ value: body, path: '', depth: 1 }];
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    const { value, path, depth } = frame;
    if (depth > MAX_JSON_DEPTH) return limit(path, `nested too deeply (more than ${MAX_JSON_DEPTH} levels of objects and arrays)`);
    if (Array.isArray(value)) {
      const max = depth === 2 ? (MAX_FIELD_ITEMS[path] ?? MAX_ARRAY_ITEMS) : MAX_ARRAY_ITEMS;
      if (value.length > max) return limit(path, `array too long (${value.length} items; at most ${max})`);
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item === 'object' && item !== null) stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 });
      }
    } else {
      // for...in without the array of keys Object.keys would build first; JSON.parse makes own keys only.
      let count = 0;
      for (const key in value) {
        if (++count > MAX_OBJECT_KEYS) return limit(path, `too many keys (more than ${MAX_OBJECT_KEYS})`);
        const item: unknown = (value as Record<string, unknown>)[key];
        if (typeof item === 'object' && item !== null) stack.push({ value: item, path: path ? `${path}.${key}` : key, depth: depth + 1 });
      }
    }
  }
  return undefined;
}
