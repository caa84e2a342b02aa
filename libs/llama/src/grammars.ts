/**
 * Grammars that constrain output: a raw GBNF grammar (llama.cpp server's `grammar`), JSON for
 * `response_format`, and tool calls built from the functions' JSON schemas. Compiled grammars are
 * cached per model host, since clients send the same schema again and again.
 */
import type { ResponseFormat, ToolDefinition } from '@switchyard/contracts';
import { GenerationRejected } from './generation-errors';
import { compileJsonSchema, UnsupportedSchema } from './schema-grammar/compiler';
import { gbnfLiteral } from './schema-grammar/rules';
import type { Llama, LlamaGrammar } from './node-llama-cpp';
import type { ToolCallSyntax } from './output/tool-calls';

const CACHE_LIMIT = 64;

/**
 * Prefixes every rule name of a grammar, so several grammars can live in one: names are renamed
 * where defined and where referenced, never inside string literals or character classes.
 */
export function prefixRules(gbnf: string, prefix: string): string {
  const names = new Set<string>();
  for (const m of gbnf.matchAll(/^\s*([A-Za-z0-9_-]+)\s*::=/gm)) names.add(m[1]);
  let out = '';
  let i = 0;
  while (i < gbnf.length) {
    const c = gbnf[i];
    if (c === '"' || c === '[') {
      const close = c === '"' ? '"' : ']';
      let j = i + 1;
      while (j < gbnf.length && gbnf[j] !== close) j += gbnf[j] === '\\' ? 2 : 1;
      out += gbnf.slice(i, j + 1);
      i = j + 1;
    } else if (/[A-Za-z0-9_-]/.test(c)) {
      let j = i;
      while (j < gbnf.length && /[A-Za-z0-9_-]/.test(gbnf[j])) j++;
      const word = gbnf.slice(i, j);
      out += names.has(word) ? `${prefix}${word}` : word;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** A JSON pointer as the gateway writes params: `/properties/a/anyOf/0` -> `.properties.a.anyOf[0]`. */
export function dottedPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('');
}

function argumentsSchema(tool: ToolDefinition): Record<string, unknown> {
  const p = tool.parameters;
  if (!p || Object.keys(p).length === 0) return { type: 'object', properties: {} };
  return p;
}

export class GrammarFactory {
  private readonly cache = new Map<string, Promise<LlamaGrammar>>();
  /** GBNF compiled from schemas, by schema and strictness. */
  private readonly compiled = new Map<string, string>();

  constructor(private readonly llama: Llama) {}

  private cached(key: string, make: () => Promise<LlamaGrammar>): Promise<LlamaGrammar> {
    let g = this.cache.get(key);
    if (g) {
      this.cache.delete(key);
      this.cache.set(key, g);
      return g;
    }
    g = make();
    this.cache.set(key, g);
    g.catch(() => this.cache.delete(key));
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    return g;
  }

  /** A grammar from GBNF text; a grammar llama.cpp cannot parse is the client's error. */
  gbnf(text: string, param = 'grammar'): Promise<LlamaGrammar> {
    return this.cached(`gbnf:${text}`, async () => {
      // llama.cpp reads the grammar as a C string: a NUL would silently cut it short.
      if (text.includes('\0')) throw new GenerationRejected(`Invalid grammar in '${param}': it contains a NUL character.`, 'invalid_grammar', param);
      try {
        return await this.llama.createGrammar({ grammar: text });
      } catch (err) {
        throw new GenerationRejected(`Invalid grammar in '${param}': ${(err as Error).message}`, 'invalid_grammar', param);
      }
    });
  }

  /**
   * GBNF text for values matching a JSON schema (./schema-grammar: numeric bounds, lengths, patterns,
   * formats, $ref recursion). With `strict`, a keyword no grammar can enforce is the client's 400,
   * naming it (`param` plus the keyword's path); without, it is left unenforced.
   */
  private schemaGbnf(schema: Record<string, unknown>, param: string, strict: boolean): string {
    const key = `${strict ? 's' : 'n'}:${JSON.stringify(schema)}`;
    const known = this.compiled.get(key);
    if (known !== undefined) return known;
    let gbnf: string;
    try {
      gbnf = compileJsonSchema(schema, { strict }).gbnf;
    } catch (err) {
      if (err instanceof UnsupportedSchema) {
        throw new GenerationRejected(`Unsupported JSON schema in '${param}': ${err.message}.`, 'invalid_json_schema', `${param}${dottedPath(err.path)}`);
      }
      throw new GenerationRejected(`Unsupported JSON schema in '${param}': ${(err as Error).message}`, 'invalid_json_schema', param);
    }
    this.compiled.set(key, gbnf);
    if (this.compiled.size > CACHE_LIMIT) this.compiled.delete(this.compiled.keys().next().value as string);
    return gbnf;
  }

  async forSchema(schema: Record<string, unknown>, param: string, strict = false): Promise<LlamaGrammar> {
    return this.gbnf(this.schemaGbnf(schema, param, strict), param);
  }

  async responseFormat(format: ResponseFormat): Promise<LlamaGrammar | undefined> {
    if (format.type === 'text') return undefined;
    if (format.type === 'json_object') return this.forSchema({ type: 'object', additionalProperties: true }, 'response_format');
    return this.forSchema(format.schema, 'response_format.json_schema.schema', format.strict);
  }

  /**
   * Forced calls as JSON: one `{"name", "arguments"}` object for a named function or when parallel
   * calls are off, otherwise a non-empty array of them.
   */
  forcedToolCalls(tools: readonly ToolDefinition[], named: string | undefined, parallel: boolean): Promise<LlamaGrammar> {
    const call = (t: ToolDefinition): Record<string, unknown> => ({
      type: 'object',
      properties: { name: { const: t.name }, arguments: argumentsSchema(t) },
      required: ['name', 'arguments'],
    });
    const chosen = named ? tools.filter((t) => t.name === named) : tools;
    const one = chosen.length === 1 ? call(chosen[0]) : { oneOf: chosen.map(call) };
    const schema = named || !parallel ? one : { type: 'array', items: one, minItems: 1 };
    // Strict when every tool it may call is strict (a refusal names the schema at fault below).
    chosen.forEach((t) => {
      if (t.strict) this.schemaGbnf(argumentsSchema(t), `tools[${tools.indexOf(t)}].function.parameters`, true);
    });
    return this.forSchema(schema, 'tools', chosen.every((t) => t.strict === true));
  }

  /**
   * The rest of one call in the template's own syntax, after its prefix and the text `after` that
   * came with the token that completed the prefix: `name paramsPrefix {arguments} suffix`.
   * Undefined when no function can continue `after`.
   */
  async nativeCallRest(syntax: ToolCallSyntax, tools: readonly ToolDefinition[], after: string): Promise<LlamaGrammar | undefined> {
    const rules: string[] = [];
    const alternatives: string[] = [];
    for (const [i, tool] of tools.entries()) {
      const head = tool.name + syntax.paramsPrefix;
      if (!head.startsWith(after)) continue;
      const args = prefixRules(this.schemaGbnf(argumentsSchema(tool), `tools[${i}].function.parameters`, tool.strict === true), `f${i}-`);
      rules.push(args);
      const rest = head.slice(after.length);
      alternatives.push(`${rest.length > 0 ? gbnfLiteral(rest) + ' ' : ''}f${i}-root${syntax.suffix ? ' ' + gbnfLiteral(syntax.suffix) : ''}`);
    }
    if (alternatives.length === 0) return undefined;
    return this.gbnf(`root ::= ${alternatives.join(' | ')}\n${rules.join('\n')}\n`, 'tools');
  }
}
