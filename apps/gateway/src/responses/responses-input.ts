/**
 * The Responses API's request, checked and turned into what the chat path already runs: input items
 * become chat messages (OpenAI's chat shape, so the same list feeds a llama.cpp job and an upstream's
 * /chat/completions), flat function tools become chat tools, `text.format` a `response_format`.
 * Every refusal is a 400 whose `param` names the place in the Responses request
 * (`input[1].content[0].image_url`, `tools[2].type`), never the chat field it maps to.
 */
import { randomBytes } from 'node:crypto';
import { OpenAIError } from '../core/openai-error';
import { checkJsonSchema } from '../chat/chat-options';
import type { CreateResponseDto } from './create-response.dto';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function bad(message: string, param: string | null, code = 'invalid_value'): OpenAIError {
  return OpenAIError.badRequest(message, param, code);
}

/** OpenAI-style item ids: a type prefix and random hex (msg_…, fc_…, rs_…). */
export function itemId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}

/** A chat message as /v1/chat/completions takes it (text, image parts, tool calls, tool answers). */
export interface ChatMessageJson {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string | Array<Obj> | null;
  tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
  reasoning_content?: string;
}

/** An input item as GET /v1/responses/{id}/input_items lists it (always with an id and a status). */
export type InputItemResource = Obj & { id: string; type: string };

/** Built-in tools OpenAI runs itself; named in the refusal so a client knows what to drop. */
const BUILT_IN_TOOLS = new Set([
  'web_search',
  'web_search_preview',
  'web_search_preview_2025_03_11',
  'web_search_2025_08_26',
  'file_search',
  'computer_use_preview',
  'computer_use',
  'code_interpreter',
  'image_generation',
  'mcp',
  'local_shell',
  'shell',
  'apply_patch',
  'custom',
  'tool_search',
]);

const INCLUDABLE = new Set([
  'message.output_text.logprobs',
  'reasoning.encrypted_content',
  'file_search_call.results',
  'web_search_call.results',
  'web_search_call.action.sources',
  'message.input_image.image_url',
  'computer_call_output.output.image_url',
  'code_interpreter_call.outputs',
]);

/** Flat Responses function tools → chat tools, checked with Responses `param` paths. */
export function parseResponseTools(raw: unknown[] | null | undefined): Obj[] | undefined {
  if (raw == null) return undefined;
  const seen = new Set<string>();
  return raw.map((t, i) => {
    const at = `tools[${i}]`;
    if (!isObj(t)) throw bad(`Invalid '${at}': expected a tool object.`, at);
    if (t.type !== 'function') {
      const type = typeof t.type === 'string' ? t.type : String(t.type);
      const why = BUILT_IN_TOOLS.has(type) ? `'${type}' is one of OpenAI's built-in tools, which this server does not run` : `unknown tool type '${type}'`;
      throw bad(`Invalid '${at}.type': ${why}; only 'function' tools are supported.`, `${at}.type`, 'unsupported_tool');
    }
    if (typeof t.name !== 'string' || !FUNCTION_NAME.test(t.name)) {
      throw bad(`Invalid '${at}.name': expected a string of 1-64 letters, digits, underscores or dashes.`, `${at}.name`);
    }
    if (seen.has(t.name)) throw bad(`Invalid '${at}.name': '${t.name}' is defined twice.`, `${at}.name`);
    seen.add(t.name);
    if (t.parameters != null) checkJsonSchema(t.parameters, `${at}.parameters`);
    if (t.description != null && typeof t.description !== 'string') throw bad(`Invalid '${at}.description': expected a string.`, `${at}.description`);
    if (t.strict != null && typeof t.strict !== 'boolean') throw bad(`Invalid '${at}.strict': expected a boolean.`, `${at}.strict`);
    return {
      type: 'function',
      function: {
        name: t.name,
        ...(typeof t.description === 'string' ? { description: t.description } : {}),
        ...(isObj(t.parameters) ? { parameters: t.parameters } : {}),
        // The Responses API makes function tools strict unless told otherwise.
        strict: t.strict !== false,
      },
    };
  });
}

/** Responses tool_choice → chat tool_choice, and the tools an `allowed_tools` choice keeps. */
export function parseResponseToolChoice(raw: CreateResponseDto['tool_choice'], tools: Obj[] | undefined): { choice: unknown; tools: Obj[] | undefined } {
  if (raw == null) return { choice: undefined, tools };
  const names = new Set((tools ?? []).map((t) => (t.function as Obj).name as string));
  if (typeof raw === 'string') {
    if (raw !== 'none' && names.size === 0) throw bad(`Invalid value for 'tool_choice': '${raw}' is only allowed when 'tools' are specified.`, 'tool_choice');
    return { choice: raw, tools };
  }
  if (raw.type === 'function') {
    if (typeof raw.name !== 'string') throw bad("Invalid 'tool_choice': expected {\"type\": \"function\", \"name\": ...}.", 'tool_choice.name');
    if (!names.has(raw.name)) throw bad(`Invalid 'tool_choice': no function named '${raw.name}' in 'tools'.`, 'tool_choice.name');
    return { choice: { type: 'function', function: { name: raw.name } }, tools };
  }
  if (raw.type === 'allowed_tools') {
    if (raw.mode !== 'auto' && raw.mode !== 'required') throw bad("Invalid 'tool_choice.mode': expected 'auto' or 'required'.", 'tool_choice.mode');
    if (!Array.isArray(raw.tools)) throw bad("Invalid 'tool_choice.tools': expected an array of tools.", 'tool_choice.tools');
    const allowed = new Set<string>();
    raw.tools.forEach((t, i) => {
      if (!isObj(t) || t.type !== 'function' || typeof t.name !== 'string' || !names.has(t.name)) {
        throw bad(`Invalid 'tool_choice.tools[${i}]': expected {"type": "function", "name": ...} naming one of 'tools'.`, `tool_choice.tools[${i}]`);
      }
      allowed.add(t.name);
    });
    return { choice: raw.mode, tools: tools?.filter((t) => allowed.has((t.function as Obj).name as string)) };
  }
  const type = typeof raw.type === 'string' ? raw.type : String(raw.type);
  throw bad(`Invalid 'tool_choice.type': '${type}' is not supported; use 'none', 'auto', 'required', a function or 'allowed_tools'.`, 'tool_choice.type', 'unsupported_tool');
}

/** `text.format` → chat `response_format`. */
export function parseTextFormat(text: CreateResponseDto['text']): Obj | undefined {
  if (text == null) return undefined;
  if (text.verbosity != null && !['low', 'medium', 'high'].includes(text.verbosity as string)) {
    throw bad("Invalid 'text.verbosity': expected 'low', 'medium' or 'high'.", 'text.verbosity');
  }
  const f = text.format;
  if (f == null) return undefined;
  if (!isObj(f)) throw bad("Invalid 'text.format': expected an object.", 'text.format');
  if (f.type === 'text' || f.type === 'json_object') return { type: f.type };
  if (f.type !== 'json_schema') throw bad("Invalid 'text.format.type': expected 'text', 'json_object' or 'json_schema'.", 'text.format.type');
  if (typeof f.name !== 'string' || !FUNCTION_NAME.test(f.name)) {
    throw bad("Invalid 'text.format.name': expected 1-64 letters, digits, underscores or dashes.", 'text.format.name');
  }
  if (f.schema == null) throw bad("Missing required parameter: 'text.format.schema'.", 'text.format.schema', 'missing_required_parameter');
  checkJsonSchema(f.schema, 'text.format.schema');
  return { type: 'json_schema', json_schema: { name: f.name, schema: f.schema, strict: f.strict === true } };
}

export function parseReasoning(reasoning: CreateResponseDto['reasoning']): { effort?: string; summary?: string } {
  if (reasoning == null) return {};
  const out: { effort?: string; summary?: string } = {};
  if (reasoning.effort != null) {
    if (!['none', 'minimal', 'low', 'medium', 'high'].includes(reasoning.effort as string)) {
      throw bad("Invalid 'reasoning.effort': expected 'none', 'minimal', 'low', 'medium' or 'high'.", 'reasoning.effort');
    }
    out.effort = reasoning.effort as string;
  }
  const summary = reasoning.summary ?? reasoning.generate_summary;
  if (summary != null) {
    if (!['auto', 'concise', 'detailed'].includes(summary as string)) throw bad("Invalid 'reasoning.summary': expected 'auto', 'concise' or 'detailed'.", 'reasoning.summary');
    out.summary = summary as string;
  }
  return out;
}

export function checkInclude(include: string[] | null | undefined): { logprobs: boolean } {
  (include ?? []).forEach((v, i) => {
    if (!INCLUDABLE.has(v)) throw bad(`Invalid 'include[${i}]': unknown value '${v}'.`, `include[${i}]`);
  });
  return { logprobs: include?.includes('message.output_text.logprobs') === true };
}

export function checkMetadata(metadata: CreateResponseDto['metadata']): void {
  if (metadata == null) return;
  const entries = Object.entries(metadata);
  if (entries.length > 16) throw bad("Invalid 'metadata': at most 16 keys.", 'metadata');
  for (const [k, v] of entries) {
    if (k.length > 64) throw bad(`Invalid 'metadata': the key '${k.slice(0, 20)}…' is longer than 64 characters.`, 'metadata');
    if (typeof v !== 'string' || v.length > 512) throw bad(`Invalid 'metadata.${k}': expected a string of at most 512 characters.`, `metadata.${k}`);
  }
}

function textOf(part: Obj, at: string, field: 'text' | 'refusal' = 'text'): string {
  if (typeof part[field] !== 'string') throw bad(`Invalid '${at}.${field}': expected a string.`, `${at}.${field}`);
  return part[field] as string;
}

/** One user/system/developer content part → a chat part; images only where the model takes them. */
function inputPart(part: unknown, at: string, acceptsImages: boolean): Obj {
  if (!isObj(part) || typeof part.type !== 'string') throw bad(`Invalid '${at}': expected a content part object with a 'type'.`, at);
  switch (part.type) {
    case 'input_text':
      return { type: 'text', text: textOf(part, at) };
    case 'input_image': {
      if (!acceptsImages) throw bad("This model does not accept 'input_image' content: it is a text-only model.", at, 'unsupported_content_type');
      if (part.file_id != null) throw bad(`Invalid '${at}.file_id': uploaded files are not supported; send 'image_url' (a data: or https: URL).`, `${at}.file_id`, 'unsupported_parameter');
      if (typeof part.image_url !== 'string') throw bad(`Missing required parameter: '${at}.image_url'.`, `${at}.image_url`, 'missing_required_parameter');
      if (part.detail != null && !['auto', 'low', 'high'].includes(part.detail as string)) throw bad(`Invalid '${at}.detail': expected 'auto', 'low' or 'high'.`, `${at}.detail`);
      return { type: 'image_url', image_url: { url: part.image_url, ...(part.detail != null ? { detail: part.detail } : {}) } };
    }
    case 'input_file':
    case 'input_audio':
      throw bad(`This model does not accept '${part.type}' content.`, at, 'unsupported_content_type');
    default:
      throw bad(`Invalid '${at}.type': unknown content part type '${part.type}'.`, `${at}.type`);
  }
}

/** The checked input, as chat messages to append to the conversation and as stored input items. */
export interface ParsedInput {
  messages: ChatMessageJson[];
  items: InputItemResource[];
}

const MESSAGE_ROLES = ['user', 'system', 'developer', 'assistant'];

/**
 * Input items → chat messages. Function calls join the assistant turn before them (chat carries
 * calls on an assistant message), a reasoning item goes with the assistant turn after it, and each
 * function_call_output must answer a call made earlier in this input or in the conversation.
 * `openCalls` are the calls of the conversation so far (previous_response_id) not yet answered.
 */
export function parseInput(input: CreateResponseDto['input'], o: { acceptsImages: boolean; knownCalls: ReadonlySet<string>; openCalls: ReadonlySet<string> }): ParsedInput {
  const raw: unknown[] = input == null ? [] : typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : input;
  if (raw.length === 0) throw bad("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  const messages: ChatMessageJson[] = [];
  const items: InputItemResource[] = [];
  const known = new Set(o.knownCalls);
  const open = new Set(o.openCalls);
  let reasoning: string | undefined;
  const assistantTurn = (): ChatMessageJson => {
    const last = messages[messages.length - 1];
    if (last?.role === 'assistant') return last;
    const turn: ChatMessageJson = { role: 'assistant', content: null };
    messages.push(turn);
    return turn;
  };
  const takeReasoning = (turn: ChatMessageJson): void => {
    if (reasoning !== undefined) turn.reasoning_content = (turn.reasoning_content ?? '') + reasoning;
    reasoning = undefined;
  };
  const closeCalls = (at: string): void => {
    if (open.size > 0) throw bad(`No tool output found for function call ${[...open][0]}.`, at, 'invalid_value');
  };
  raw.forEach((item, i) => {
    const at = `input[${i}]`;
    if (!isObj(item)) throw bad(`Invalid '${at}': expected an input item object.`, at);
    const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
    const id = typeof item.id === 'string' && item.id.length > 0 ? item.id : undefined;
    if (type === 'message') {
      if (typeof item.role !== 'string' || !MESSAGE_ROLES.includes(item.role)) {
        throw bad(`Invalid '${at}.role': expected one of ${MESSAGE_ROLES.join(', ')}.`, `${at}.role`);
      }
      const role = item.role as ChatMessageJson['role'];
      const c = item.content;
      if (role === 'assistant') {
        // An earlier answer sent back by a client that manages its own context.
        const parts = typeof c === 'string' ? [{ type: 'output_text', text: c }] : c;
        if (!Array.isArray(parts)) throw bad(`Invalid '${at}.content': expected a string or an array of content parts.`, `${at}.content`);
        const text = parts
          .map((p, j) => {
            const pat = `${at}.content[${j}]`;
            if (!isObj(p)) throw bad(`Invalid '${pat}': expected a content part object.`, pat);
            if (p.type === 'output_text' || p.type === 'input_text') return textOf(p, pat);
            if (p.type === 'refusal') return textOf(p, pat, 'refusal');
            throw bad(`Invalid '${pat}.type': an assistant message holds 'output_text' or 'refusal' parts.`, `${pat}.type`);
          })
          .join('');
        closeCalls(at);
        const turn: ChatMessageJson = { role: 'assistant', content: text };
        takeReasoning(turn);
        messages.push(turn);
        items.push({ id: id ?? itemId('msg'), type: 'message', role: 'assistant', status: 'completed', content: parts.map((p) => ({ annotations: [], logprobs: [], ...(p as Obj) })) });
        return;
      }
      closeCalls(at);
      let content: ChatMessageJson['content'];
      let stored: Obj[];
      if (typeof c === 'string') {
        content = c;
        stored = [{ type: 'input_text', text: c }];
      } else if (Array.isArray(c)) {
        if (c.length === 0) throw bad(`Invalid '${at}.content': expected at least one content part.`, `${at}.content`);
        const chatParts = c.map((p, j) => {
          if (role !== 'user' && isObj(p) && p.type === 'input_image') throw bad(`Invalid '${at}.content[${j}]': a ${role} message holds text only.`, `${at}.content[${j}]`);
          return inputPart(p, `${at}.content[${j}]`, o.acceptsImages);
        });
        content = chatParts.every((p) => p.type === 'text') ? chatParts.map((p) => p.text as string).join('\n') : chatParts;
        stored = c as Obj[];
      } else {
        throw bad(`Invalid '${at}.content': expected a string or an array of content parts.`, `${at}.content`);
      }
      messages.push({ role, content });
      items.push({ id: id ?? itemId('msg'), type: 'message', role, status: 'completed', content: stored });
      return;
    }
    if (type === 'function_call') {
      if (typeof item.call_id !== 'string' || item.call_id.length === 0) throw bad(`Missing required parameter: '${at}.call_id'.`, `${at}.call_id`, 'missing_required_parameter');
      if (typeof item.name !== 'string') throw bad(`Missing required parameter: '${at}.name'.`, `${at}.name`, 'missing_required_parameter');
      if (typeof item.arguments !== 'string') throw bad(`Invalid '${at}.arguments': expected a JSON string.`, `${at}.arguments`);
      const turn = assistantTurn();
      // A call after its turn's answers were given starts a new turn.
      takeReasoning(turn);
      (turn.tool_calls ??= []).push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } });
      known.add(item.call_id);
      open.add(item.call_id);
      items.push({ id: id ?? itemId('fc'), type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments, status: 'completed' });
      return;
    }
    if (type === 'function_call_output') {
      if (typeof item.call_id !== 'string') throw bad(`Missing required parameter: '${at}.call_id'.`, `${at}.call_id`, 'missing_required_parameter');
      if (!known.has(item.call_id)) throw bad(`No tool call found for function call output with call_id ${item.call_id}.`, `${at}.call_id`);
      let output: string;
      if (typeof item.output === 'string') output = item.output;
      else if (Array.isArray(item.output)) output = item.output.map((p, j) => (isObj(p) && p.type === 'input_text' ? textOf(p, `${at}.output[${j}]`) : '')).join('');
      else throw bad(`Invalid '${at}.output': expected a string.`, `${at}.output`);
      open.delete(item.call_id);
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: output });
      items.push({ id: id ?? itemId('fco'), type: 'function_call_output', call_id: item.call_id, output: item.output, status: 'completed' });
      return;
    }
    if (type === 'reasoning') {
      const texts = [...(Array.isArray(item.content) ? item.content : []), ...(Array.isArray(item.summary) ? item.summary : [])]
        .filter(isObj)
        .map((p) => (typeof p.text === 'string' ? p.text : ''));
      if (!Array.isArray(item.summary)) throw bad(`Missing required parameter: '${at}.summary'.`, `${at}.summary`, 'missing_required_parameter');
      // Content (the reasoning itself) wins over its summary when both came back.
      reasoning = Array.isArray(item.content) && item.content.length > 0 ? texts.slice(0, item.content.length).join('') : texts.join('\n');
      items.push({ id: id ?? itemId('rs'), type: 'reasoning', summary: item.summary, ...(Array.isArray(item.content) ? { content: item.content } : {}) });
      return;
    }
    if (type === 'item_reference') {
      throw bad(`Invalid '${at}.type': 'item_reference' is not supported; use previous_response_id or send the item itself.`, `${at}.type`, 'unsupported_parameter');
    }
    throw bad(
      typeof type === 'string'
        ? `Invalid '${at}.type': '${type}' items are not supported; send messages, function_call, function_call_output or reasoning items.`
        : `Missing required parameter: '${at}.type'.`,
      `${at}.type`,
    );
  });
  return { messages, items };
}

/** The call ids a conversation made, and those its last assistant turn left unanswered. */
export function callsOf(messages: readonly ChatMessageJson[]): { known: Set<string>; open: Set<string> } {
  const known = new Set<string>();
  let open = new Set<string>();
  for (const m of messages) {
    if (m.role === 'assistant' && m.tool_calls?.length) {
      open = new Set(m.tool_calls.map((c) => c.id));
      for (const c of m.tool_calls) known.add(c.id);
    } else if (m.role === 'tool' && m.tool_call_id) {
      open.delete(m.tool_call_id);
    } else {
      open = new Set();
    }
  }
  return { known, open };
}

/**
 * `truncation: auto` after a context overflow: drops the oldest turns (a quarter at a time, at
 * least one), never the instructions at the front nor the newest message, and no tool answer whose
 * call went. Undefined when nothing more can go.
 */
export function truncated(messages: readonly ChatMessageJson[], keepFront: number): ChatMessageJson[] | undefined {
  const front = messages.slice(0, keepFront);
  let rest = messages.slice(keepFront);
  if (rest.length <= 1) return undefined;
  const drop = Math.max(1, Math.floor((rest.length - 1) / 4));
  rest = rest.slice(drop);
  while (rest.length > 1 && rest[0].role === 'tool') rest = rest.slice(1);
  return [...front, ...rest];
}
