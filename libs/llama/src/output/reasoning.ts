/**
 * Splits a reasoning model's output into reasoning (between its thinking markers, e.g. `<think>` and
 * `</think>`) and answer text, as it streams. A marker split across tokens is held back until it is
 * known whether it completes.
 */
export interface ReasoningMarkers {
  open: string;
  close: string;
}

export interface SplitPiece {
  content: string;
  reasoning: string;
}

/** Length of the longest suffix of `text` that is a proper prefix of `marker`. */
function partialSuffix(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) {
    if (marker.startsWith(text.slice(text.length - n))) return n;
  }
  return 0;
}

export class ReasoningSplitter {
  private held = '';
  private thinking: boolean;
  /** Whitespace right after a marker is dropped, as chat UIs expect. */
  private trimNext = false;
  private seenOpen: boolean;

  constructor(
    private readonly markers: ReasoningMarkers,
    /** The prompt already opened the thinking block (templates that end with `<think>\n`). */
    startInside: boolean,
  ) {
    this.thinking = startInside;
    this.seenOpen = startInside;
    this.trimNext = startInside;
  }

  get inReasoning(): boolean {
    return this.thinking;
  }

  push(text: string): SplitPiece {
    const out: SplitPiece = { content: '', reasoning: '' };
    let rest = this.held + text;
    this.held = '';
    while (rest.length > 0) {
      if (this.trimNext) {
        rest = rest.replace(/^\s+/, '');
        if (rest.length === 0) break;
        this.trimNext = false;
      }
      // Only one thinking block, at the start: a later `<think>` in the answer is plain text.
      const marker = this.thinking ? this.markers.close : this.seenOpen ? undefined : this.markers.open;
      if (marker === undefined) {
        out.content += rest;
        break;
      }
      const at = rest.indexOf(marker);
      // The opening marker counts only at the start of the output (after whitespace at most).
      if (at >= 0 && !this.thinking && rest.slice(0, at).trim().length > 0) {
        this.seenOpen = true;
        continue;
      }
      if (at >= 0) {
        this.add(out, rest.slice(0, at));
        rest = rest.slice(at + marker.length);
        if (this.thinking) this.thinking = false;
        else {
          this.thinking = true;
          this.seenOpen = true;
        }
        this.trimNext = true;
        continue;
      }
      const keep = partialSuffix(rest, marker);
      // Before any answer text, text other than the opening marker means the model is not thinking.
      if (!this.thinking && !this.seenOpen && rest.slice(0, rest.length - keep).trim().length > 0) this.seenOpen = true;
      this.add(out, rest.slice(0, rest.length - keep));
      this.held = rest.slice(rest.length - keep);
      break;
    }
    return out;
  }

  /** End of output: what was held back is plain text of the current kind. */
  flush(): SplitPiece {
    const out: SplitPiece = { content: '', reasoning: '' };
    this.add(out, this.held);
    this.held = '';
    return out;
  }

  private add(out: SplitPiece, text: string): void {
    if (this.thinking) out.reasoning += text;
    else out.content += text;
  }
}
