/**
 * Reads the structured parts of a chat request (tools, tool_choice, response_format, tool calls in
 * the history) into job fields, with OpenAI's error messages and `param` paths for what is wrong.
 */
import type { ChatMessage, ResponseFormat, ToolCall, ToolChoice, ToolDefinition } from '@switchyard/contracts';
import { OpenAIError } from '../core/openai-error';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function bad(message: string, param: string, code = 'invalid_value'): OpenAIError {
  return OpenAIError.badRequest(message, param, code);
}

const SCHEMA_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

/**
 * Checks that a JSON Schema is structurally one (the keywords a grammar is built from have the right
 * JSON types), so a malformed schema is the client's 400 naming the spot, not a worker failure.
 */
export function checkJsonSchema(schema: unknown, param: string): void {
  const fail = (at: string, what: string): never => {
    throw bad(`Invalid '${at}': ${what}.`, at);
  };
  if (!isObj(schema)) return fail(param, 'expected a JSON Schema object');
  const t = schema.type;
  if (t !== undefined && !(typeof t === 'string' ? SCHEMA_TYPES.has(t) : Array.isArray(t) && t.every((x) => typeof x === 'string' && SCHEMA_TYPES.has(x)))) {
    fail(`${param}.type`, `expected one of ${[...SCHEMA_TYPES].join(', ')} (or an array of them)`);
  }
  if (schema.properties !== undefined) {
    if (!isObj(schema.properties)) fail(`${param}.properties`, 'expected an object of schemas');
    for (const [k, v] of Object.entries(schema.properties as Obj)) checkJsonSchema(v, `${param}.properties.${k}`);
  }
  if (schema.required !== undefined && !(Array.isArray(schema.required) && schema.required.every((r) => typeof r === 'string'))) {
    fail(`${param}.required`, 'expected an array of property names');
  }
  if (schema.enum !== undefined && !Array.isArray(schema.enum)) fail(`${param}.enum`, 'expected an array');
  if (schema.items !== undefined && typeof schema.items !== 'boolean') {
    if (Array.isArray(schema.items)) schema.items.forEach((v, i) => checkJsonSchema(v, `${param}.items[${i}]`));
    else checkJsonSchema(schema.items, `${param}.items`);
  }
  if (schema.additionalProperties !== undefined && typeof schema.additionalProperties !== 'boolean') {
    checkJsonSchema(schema.additionalProperties, `${param}.additionalProperties`);
  }
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    const list = schema[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) fail(`${param}.${key}`, 'expected an array of schemas');
    (list as unknown[]).forEach((v, i) => checkJsonSchema(v, `${param}.${key}[${i}]`));
  }
  for (const key of ['$defs', 'definitions'] as const) {
    const defs = schema[key];
    if (defs === undefined) continue;
    if (!isObj(defs)) fail(`${param}.${key}`, 'expected an object of schemas');
    for (const [k, v] of Object.entries(defs as Obj)) checkJsonSchema(v, `${param}.${key}.${k}`);
  }
}

export function parseTools(raw: unknown[] | null | undefined): ToolDefinition[] | undefined {
  if (raw == null) return undefined;
  const seen = new Set<string>();
  return raw.map((t, i) => {
    const at = `tools[${i}]`;
    // The DTOs check this too; every caller's array still gets the check, so a null is never read into.
    if (!isObj(t)) throw bad(`Invalid '${at}': expected a tool object.`, at);
    const tool = t;
    if (tool.type !== 'function') throw bad(`Invalid '${at}.type': only 'function' tools are supported.`, `${at}.type`);
    const fn = tool.function;
    if (!isObj(fn)) throw bad(`Missing required parameter: '${at}.function'.`, `${at}.function`, 'missing_required_parameter');
    if (typeof fn.name !== 'string' || !FUNCTION_NAME.test(fn.name)) {
      throw bad(`Invalid '${at}.function.name': expected a string of 1-64 letters, digits, underscores or dashes.`, `${at}.function.name`);
    }
    if (seen.has(fn.name)) throw bad(`Invalid '${at}.function.name': '${fn.name}' is defined twice.`, `${at}.function.name`);
    seen.add(fn.name);
    if (fn.parameters !== undefined && fn.parameters !== null) checkJsonSchema(fn.parameters, `${at}.function.parameters`);
    if (fn.description !== undefined && fn.description !== null && typeof fn.description !== 'string') {
      throw bad(`Invalid '${at}.function.description': expected a string.`, `${at}.function.description`);
    }
    return {
      name: fn.name,
      ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
      ...(isObj(fn.parameters) ? { parameters: fn.parameters } : {}),
      ...(fn.strict === true ? { strict: true } : {}),
    };
  });
}

export function parseToolChoice(raw: string | Obj | null | undefined, tools: ToolDefinition[] | undefined): ToolChoice | undefined {
  if (raw == null) return undefined;
  if (typeof raw === 'string') {
    if (raw !== 'none' && !tools?.length) {
      throw bad(`Invalid value for 'tool_choice': '${raw}' is only allowed when 'tools' are specified.`, 'tool_choice');
    }
    return raw as ToolChoice;
  }
  const fn = raw.function;
  if (raw.type !== 'function' || !isObj(fn) || typeof fn.name !== 'string') {
    throw bad("Invalid 'tool_choice': expected {\"type\": \"function\", \"function\": {\"name\": ...}}.", 'tool_choice');
  }
  if (!tools?.some((t) => t.name === fn.name)) {
    throw bad(`Invalid 'tool_choice': no function named '${fn.name}' in 'tools'.`, 'tool_choice.function.name');
  }
  return { name: fn.name };
}

export function parseResponseFormat(raw: Obj | null | undefined): ResponseFormat | undefined {
  if (raw == null) return undefined;
  if (raw.type === 'text' || raw.type === 'json_object') return { type: raw.type };
  if (raw.type !== 'json_schema') {
    throw bad("Invalid 'response_format.type': expected 'text', 'json_object' or 'json_schema'.", 'response_format.type');
  }
  const js = raw.json_schema;
  if (!isObj(js)) throw bad("Missing required parameter: 'response_format.json_schema'.", 'response_format.json_schema', 'missing_required_parameter');
  if (typeof js.name !== 'string' || !FUNCTION_NAME.test(js.name)) {
    throw bad("Invalid 'response_format.json_schema.name': expected 1-64 letters, digits, underscores or dashes.", 'response_format.json_schema.name');
  }
  const schema = js.schema ?? { type: 'object', additionalProperties: true };
  checkJsonSchema(schema, 'response_format.json_schema.schema');
  return { type: 'json_schema', name: js.name, schema: schema as Obj, strict: js.strict === true };
}

export function parseToolCalls(raw: unknown[] | null | undefined, index: number): ToolCall[] | undefined {
  if (raw == null || raw.length === 0) return undefined;
  return raw.map((c, j) => {
    const at = `messages[${index}].tool_calls[${j}]`;
    // An element may be any JSON value (null, a number, an array): check it is an object before reading it.
    const fn = isObj(c) ? c.function : undefined;
    if (!isObj(c) || typeof c.id !== 'string' || !isObj(fn) || typeof fn.name !== 'string' || typeof fn.arguments !== 'string') {
      throw bad(`Invalid '${at}': expected {"id", "type": "function", "function": {"name", "arguments"}} with string values.`, at);
    }
    return { id: c.id, name: fn.name, arguments: fn.arguments };
  });
}

/**
 * OpenAI's rules for tool turns: each `tool` message answers a call of an earlier assistant turn,
 * and each call is answered before the next assistant or user turn.
 */
export function checkToolTurns(messages: readonly ChatMessage[]): void {
  const open = new Map<string, string>();
  messages.forEach((m, i) => {
    if (m.role === 'tool') {
      if (!m.toolCallId) throw bad(`Missing required parameter: 'messages[${i}].tool_call_id'.`, `messages[${i}].tool_call_id`, 'missing_required_parameter');
      const name = open.get(m.toolCallId);
      if (name === undefined) {
        throw bad(
          `Invalid 'messages[${i}]': messages with role 'tool' must be a response to a preceding message with 'tool_calls' (no open call with id '${m.toolCallId}').`,
          `messages[${i}].tool_call_id`,
        );
      }
      m.name ??= name;
      open.delete(m.toolCallId);
      return;
    }
    if (open.size > 0) {
      throw bad(
        `Invalid 'messages[${i}]': an assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id' (missing: ${[...open.keys()].join(', ')}).`,
        `messages[${i}]`,
      );
    }
    for (const c of m.toolCalls ?? []) open.set(c.id, c.name);
  });
}
