/**
 * Finds where one JSON value ends in text that arrives in pieces, without parsing it: tracks strings,
 * escapes and nesting. The grammar guarantees the value is well formed; this only has to say where
 * it stops, so tool-call arguments can be streamed as they are generated.
 */
export class JsonValueScanner {
  private depth = 0;
  private started = false;
  private inString = false;
  private escaped = false;
  private finished = false;

  get done(): boolean {
    return this.finished;
  }

  /**
   * Consumes `text` up to the end of the value; returns how many characters belong to it (leading
   * whitespace included). Objects, arrays and strings end at their closing character; a bare
   * number, `true`, `false` or `null` ends at the first character that cannot continue it.
   */
  push(text: string): number {
    for (let i = 0; i < text.length; i++) {
      if (this.finished) return i;
      const c = text[i];
      if (!this.started) {
        if (c === ' ' || c === '\n' || c === '\t' || c === '\r') continue;
        this.started = true;
        if (c === '{' || c === '[') this.depth = 1;
        else if (c === '"') this.inString = true;
        else this.depth = -1; // a bare literal
        continue;
      }
      if (this.depth === -1) {
        if (!/[0-9a-zA-Z.+-]/.test(c)) {
          this.finished = true;
          return i;
        }
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') {
          this.inString = false;
          if (this.depth === 0) {
            this.finished = true;
            return i + 1;
          }
        }
        continue;
      }
      if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth === 0) {
          this.finished = true;
          return i + 1;
        }
      }
    }
    return text.length;
  }

  /** At the end of output, a bare literal ends with it. */
  end(): void {
    if (this.started && this.depth === -1) this.finished = true;
  }
}
