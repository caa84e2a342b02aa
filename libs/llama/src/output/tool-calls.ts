/**
 * Tool calls out of generated text, streamed the way OpenAI streams them: a call's first fragment
 * has its index, id and complete name, later fragments carry pieces of its arguments.
 *
 * Two syntaxes: forced calls (tool_choice `required` or a named function) are generated as JSON
 * under a grammar, `[{"name": …, "arguments": {…}}, …]` (or one object); calls the model makes on
 * its own (`auto`) use its chat template's syntax (e.g. `<tool_call>\n{"name": "…", "arguments": …}`),
 * detected by its prefix and then constrained by a grammar from there on.
 */
import { randomBytes } from 'node:crypto';
import type { ToolCallDelta } from '@switchyard/contracts';
import { JsonValueScanner } from './json-scanner';

export function newToolCallId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}

/** Merges consecutive fragments of the same call so one text piece gives few deltas. */
function compact(deltas: ToolCallDelta[]): ToolCallDelta[] {
  const out: ToolCallDelta[] = [];
  for (const d of deltas) {
    const last = out[out.length - 1];
    if (last && last.index === d.index && d.id === undefined && d.arguments !== undefined) {
      last.arguments = (last.arguments ?? '') + d.arguments;
    } else out.push({ ...d });
  }
  return out.filter((d) => d.id !== undefined || (d.arguments ?? '').length > 0);
}

/** One call's arguments value as it streams: the text that belongs to it, leading whitespace dropped. */
class ArgumentsValue {
  private readonly scanner = new JsonValueScanner();
  private started = false;

  get done(): boolean {
    return this.scanner.done;
  }

  /** How much of `text` the value consumed, and the fragment to emit (may be empty). */
  take(text: string): { consumed: number; fragment: string } {
    const consumed = this.scanner.push(text);
    let fragment = text.slice(0, consumed);
    if (!this.started) fragment = fragment.replace(/^\s+/, '');
    if (fragment.length > 0) this.started = true;
    return { consumed, fragment };
  }
}

/** Forced calls: JSON objects with `name` before `arguments` (the grammar keeps that order). */
export class JsonToolCallStream {
  private buffer = '';
  private pos = 0;
  private index = -1;
  private state: 'name' | 'arguments-key' | 'arguments' = 'name';
  private args = new ArgumentsValue();

  constructor(private readonly newId: () => string = newToolCallId) {}

  get count(): number {
    return this.index + 1;
  }

  push(text: string): ToolCallDelta[] {
    this.buffer += text;
    const out: ToolCallDelta[] = [];
    for (;;) {
      if (this.state === 'name') {
        const re = /"name"\s*:\s*"((?:[^"\\]|\\.)*)"/g;
        re.lastIndex = this.pos;
        const m = re.exec(this.buffer);
        if (!m) break;
        this.index++;
        out.push({ index: this.index, id: this.newId(), name: JSON.parse(`"${m[1]}"`) as string, arguments: '' });
        this.pos = m.index + m[0].length;
        this.state = 'arguments-key';
      } else if (this.state === 'arguments-key') {
        const re = /"arguments"\s*:\s*/g;
        re.lastIndex = this.pos;
        const m = re.exec(this.buffer);
        if (!m) break;
        this.pos = m.index + m[0].length;
        this.state = 'arguments';
        this.args = new ArgumentsValue();
      } else {
        const chunk = this.buffer.slice(this.pos);
        if (chunk.length === 0) break;
        const { consumed, fragment } = this.args.take(chunk);
        if (fragment.length > 0) out.push({ index: this.index, arguments: fragment });
        this.pos += consumed;
        if (!this.args.done) break;
        this.state = 'name';
      }
    }
    return compact(out);
  }
}

/** How a chat template writes one call: `prefix name paramsPrefix {arguments} suffix`. */
export interface ToolCallSyntax {
  prefixes: string[];
  paramsPrefix: string;
  suffix: string;
}

/** Length of the longest suffix of `text` that is a proper prefix of one of `markers`. */
function heldLength(text: string, markers: readonly string[]): number {
  let best = 0;
  for (const m of markers) {
    for (let n = Math.min(m.length - 1, text.length); n > best; n--) {
      if (m.startsWith(text.slice(text.length - n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}

/**
 * Watches free text for the start of a call in the template's syntax. Text before it is answer
 * text; a possible start split across tokens is held back until it is decided.
 */
export class ToolCallDetector {
  private held = '';
  private found = false;

  constructor(private readonly prefixes: readonly string[]) {}

  get detected(): boolean {
    return this.found;
  }

  /** `content` is answer text; once `detected`, `after` is the text that followed the prefix. */
  push(text: string): { content: string; after: string } {
    if (this.found) return { content: '', after: text };
    const all = this.held + text;
    let at = -1;
    let len = 0;
    for (const p of this.prefixes) {
      const i = all.indexOf(p);
      if (i >= 0 && (at < 0 || i < at)) {
        at = i;
        len = p.length;
      }
    }
    if (at >= 0) {
      this.found = true;
      this.held = '';
      return { content: all.slice(0, at), after: all.slice(at + len) };
    }
    const keep = heldLength(all, this.prefixes);
    this.held = all.slice(all.length - keep);
    return { content: all.slice(0, all.length - keep), after: '' };
  }

  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}

/** The text after a detected prefix: `name paramsPrefix {arguments} suffix`, streamed as one call. */
export class NativeToolCallStream {
  private buffer = '';
  private state: 'name' | 'arguments' | 'after' = 'name';
  private readonly args = new ArgumentsValue();

  constructor(
    private readonly syntax: ToolCallSyntax,
    private readonly index: number,
    private readonly newId: () => string = newToolCallId,
  ) {}

  get complete(): boolean {
    return this.state === 'after';
  }

  push(text: string): ToolCallDelta[] {
    const out: ToolCallDelta[] = [];
    if (this.state === 'after') return out;
    let rest = text;
    if (this.state === 'name') {
      this.buffer += rest;
      const at = this.buffer.indexOf(this.syntax.paramsPrefix);
      if (at < 0) return out;
      out.push({ index: this.index, id: this.newId(), name: this.buffer.slice(0, at).trim(), arguments: '' });
      rest = this.buffer.slice(at + this.syntax.paramsPrefix.length);
      this.buffer = '';
      this.state = 'arguments';
    }
    const { fragment } = this.args.take(rest);
    if (fragment.length > 0) out.push({ index: this.index, arguments: fragment });
    if (this.args.done) this.state = 'after';
    return compact(out);
  }
}
