/**
 * Holds back generated text that might be the start of a stop sequence, so a stop string is never
 * emitted even when it arrives split across tokens.
 */
export interface StopScan {
  /** Text that is safe to emit now. */
  emit: string;
  /** True when a stop sequence was found; nothing after it is emitted. */
  stopped: boolean;
}

export class StopDetector {
  private held = '';
  constructor(private readonly stops: readonly string[]) {}

  push(text: string): StopScan {
    const buf = this.held + text;
    let first = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i !== -1 && (first === -1 || i < first)) first = i;
    }
    if (first !== -1) {
      this.held = '';
      return { emit: buf.slice(0, first), stopped: true };
    }
    const keep = this.longestPartialSuffix(buf);
    this.held = buf.slice(buf.length - keep);
    return { emit: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** Text held back at the end of generation (no stop followed) belongs to the output. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  private longestPartialSuffix(buf: string): number {
    let best = 0;
    for (const s of this.stops) {
      const max = Math.min(s.length - 1, buf.length);
      for (let n = max; n > best; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
