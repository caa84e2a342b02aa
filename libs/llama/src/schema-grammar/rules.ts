/**
 * The rules of one GBNF grammar being built from a JSON schema: unique names, shared bodies written
 * once, and names reserved ahead for recursive definitions ($ref cycles).
 */

/** A schema keyword the grammar cannot enforce, at a JSON pointer into the schema. */
export class UnsupportedSchema extends Error {
  constructor(
    readonly keyword: string,
    readonly path: string,
    detail?: string,
  ) {
    super(`'${keyword}' at ${path || '/'} cannot be enforced${detail ? `: ${detail}` : ''}`);
  }
}

/** A GBNF string literal (llama.cpp's escapes: \" \\ \n \r \t and \xNN for other control bytes). */
export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Names of the shared JSON rules (see the compiler's base rules): never given to other rules. */
const FIXED = new Set(['root', 'ws', 'char', 'string', 'integer', 'number', 'boolean', 'null', 'value', 'object', 'array']);

export class RuleSet {
  private readonly bodies = new Map<string, string>();
  private readonly byBody = new Map<string, string>();

  /** Adds a rule named after `hint` (made unique) unless one with the same body exists; returns its name. */
  add(hint: string, body: string): string {
    const existing = this.byBody.get(body);
    if (existing !== undefined) return existing;
    const name = this.reserve(hint);
    this.define(name, body);
    return name;
  }

  /** A fresh name, to be defined later (a rule that refers to itself through others). */
  reserve(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'r';
    let name = base;
    for (let i = 2; this.bodies.has(name) || FIXED.has(name); i++) name = `${base}-${i}`;
    this.bodies.set(name, '');
    return name;
  }

  /** Defines one of the shared JSON rules under its own name (`value`, `string`, ...). */
  fixed(name: string, body: string): void {
    if (!FIXED.has(name)) throw new Error(`'${name}' is not a shared rule name`);
    this.define(name, body);
  }

  define(name: string, body: string): void {
    this.bodies.set(name, body);
    if (!this.byBody.has(body)) this.byBody.set(body, name);
  }

  /** The grammar: `root ::= <rootBody>` and every rule. */
  grammar(rootBody: string): string {
    const lines = [`root ::= ${rootBody}`];
    for (const [name, body] of this.bodies) lines.push(`${name} ::= ${body}`);
    return `${lines.join('\n')}\n`;
  }
}
