/**
 * Validates response bodies against OpenAI's own OpenAPI description (../shared/openai-openapi), so
 * the tests check our shapes against the source, not against our own idea of them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';

// Not imported from ./stack: unit specs use this too, without the e2e stack's imports.
const ROOT = resolve(__dirname, '../..');

export const OPENAPI_FILE = process.env.SWITCHYARD_OPENAPI ?? resolve(ROOT, '../shared/openai-openapi/openapi.yaml');

let ajv: Ajv2020 | undefined;

/** OpenAPI 3.0 leftovers (`nullable: true`) become JSON Schema's null type. */
function normalize(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalize);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = normalize(v);
  if (out.nullable === true) {
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (!('type' in out)) return { anyOf: [{ ...out, nullable: undefined }, { type: 'null' }] };
  }
  return out;
}

let warned = false;

/** Whether the OpenAPI file is there; where it is not, the schema checks are skipped, and said so once. */
export function openapiAvailable(): boolean {
  const present = existsSync(OPENAPI_FILE);
  if (!present && !warned) {
    warned = true;
    console.warn(`SKIPPED OpenAPI schema checks: ${OPENAPI_FILE} not found (set SWITCHYARD_OPENAPI to its path)`);
  }
  return present;
}

/** Returns the list of schema errors (empty when `body` matches the named component schema). */
export function schemaErrors(component: string, body: unknown): string[] {
  if (!ajv) {
    const doc = parse(readFileSync(OPENAPI_FILE, 'utf8')) as { components: unknown };
    ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema({ $id: 'openai', components: normalize(doc.components) });
  }
  const validate = ajv.getSchema(`openai#/components/schemas/${component}`);
  if (!validate) throw new Error(`no schema ${component}`);
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
