/**
 * One post-processing step from what @nestjs/swagger 11 emits to a valid OpenAPI 3.1 document. The
 * generator writes 3.0's `nullable: true` even when the document says 3.1; 3.1 schemas are JSON
 * Schema 2020-12, where null is a type. It also repeats an operationId when one handler serves
 * several paths (rerank's aliases), and documents no error responses: every operation answers
 * OpenAI's error object on failure, so each gets it as its `default` response.
 */
import type { OpenAPIObject } from '@nestjs/swagger';

type Json = Record<string, unknown>;

/** OpenAI's error object, as every failed request answers it. */
export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      properties: {
        message: { type: 'string' },
        type: { type: 'string', examples: ['invalid_request_error'] },
        param: { type: ['string', 'null'] },
        code: { type: ['string', 'null'] },
      },
    },
  },
} as const;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A 3.0 schema (and every schema inside it) in 3.1's terms. */
export function schema31(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(schema31);
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) out[key] = key === 'properties' && isObject(value) ? mapValues(value, schema31) : schema31(value);
  if (typeof out.exclusiveMinimum === 'boolean') fixExclusive(out, 'minimum', 'exclusiveMinimum');
  if (typeof out.exclusiveMaximum === 'boolean') fixExclusive(out, 'maximum', 'exclusiveMaximum');
  if (out.example !== undefined && out.examples === undefined) {
    out.examples = [out.example];
    delete out.example;
  }
  if (out.nullable !== true) {
    delete out.nullable;
    return out;
  }
  delete out.nullable;
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
  if (typeof out.type === 'string' && out.allOf === undefined) {
    out.type = [out.type, 'null'];
    return out;
  }
  if (Array.isArray(out.type)) {
    if (!out.type.includes('null')) out.type = [...(out.type as string[]), 'null'];
    return out;
  }
  if (out.type === undefined && Array.isArray(out.enum)) return out;
  // A $ref (alone or wrapped in allOf by the generator) or a composite: "this, or null".
  const { description, ...rest } = out;
  if (Array.isArray(rest.allOf) && rest.allOf.length === 1 && rest.type === 'object') delete rest.type;
  const inner = Array.isArray(rest.allOf) && rest.allOf.length === 1 && Object.keys(rest).length === 1 ? (rest.allOf[0] as Json) : rest;
  return { ...(description !== undefined ? { description } : {}), anyOf: [inner, { type: 'null' }] };
}

function fixExclusive(schema: Json, bound: 'minimum' | 'maximum', flag: 'exclusiveMinimum' | 'exclusiveMaximum'): void {
  if (schema[flag] === true && typeof schema[bound] === 'number') {
    schema[flag] = schema[bound];
    delete schema[bound];
  } else {
    delete schema[flag];
  }
}

function mapValues(obj: Json, fn: (v: unknown) => unknown): Json {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v)]));
}

/** Every schema in the document (components, parameters, bodies, responses) in 3.1's terms. */
export function toOpenApi31(document: OpenAPIObject, extraSchemas: Record<string, object> = {}): OpenAPIObject {
  const doc = structuredClone(document) as unknown as Json & { paths: Record<string, Json>; components?: Json };
  doc.openapi = '3.1.0';
  const components = (doc.components ??= {}) as Json;
  const schemas = (components.schemas ??= {}) as Json;
  for (const [name, s] of Object.entries(schemas)) schemas[name] = schema31(s);
  Object.assign(schemas, extraSchemas);
  const seen = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      if (typeof op.operationId === 'string') op.operationId = uniqueId(op.operationId, path, seen);
      for (const p of (op.parameters as Json[] | undefined) ?? []) if (p.schema !== undefined) p.schema = schema31(p.schema);
      fixContent((op.requestBody as Json | undefined)?.content);
      const responses = (op.responses ??= {}) as Record<string, Json>;
      for (const r of Object.values(responses)) fixContent(r.content);
      responses.default ??= {
        description: "An error: OpenAI's error object, with the HTTP status that fits it.",
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
  }
  return doc as unknown as OpenAPIObject;
}

function fixContent(content: unknown): void {
  if (!isObject(content)) return;
  for (const media of Object.values(content)) if (isObject(media) && media.schema !== undefined) media.schema = schema31(media.schema);
}

/** The first path keeps the id; an alias path of the same handler gets the path appended. */
function uniqueId(id: string, path: string, seen: Set<string>): string {
  let out = id;
  if (seen.has(out)) out = `${id}_${path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')}`;
  seen.add(out);
  return out;
}
