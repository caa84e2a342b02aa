/**
 * Splits text to speak into pieces at sentence boundaries, so a voice can synthesize and send one
 * piece while the next is made: the first audio leaves after the first sentence, not the whole
 * text. Abbreviations, decimals and initials do not end a sentence; fragments too short to say
 * well join a neighbour; a sentence past `maxChars` is cut at a comma or colon, else at a space.
 */

export interface SplitOptions {
  /** Longest piece (default 300 characters). */
  maxChars?: number;
  /** Longest first piece (default maxChars): shorter, so the first audio comes sooner. */
  firstMaxChars?: number;
}

/** Pieces shorter than this join the next (or the last joins the one before). */
const MIN_PIECE_CHARS = 10;

const ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'no', 'fig', 'mt', 'inc', 'ltd', 'co', 'approx', 'dept']);

/** True when the '.' at `i` ends a sentence rather than an abbreviation, a decimal or an initial. */
function endsSentence(text: string, i: number): boolean {
  const next = text[i + 1];
  if (next !== undefined && !/\s|["'”’)\]]/.test(next)) return false; // 3.14, e.g.x, example.com
  const word = /([\p{L}.]+)$/u.exec(text.slice(Math.max(0, i - 12), i))?.[1] ?? '';
  if (ABBREVIATIONS.has(word.toLowerCase())) return false;
  // A single capital letter: an initial ("J. R. R. Tolkien").
  if (/^\p{Lu}$/u.test(word)) return false;
  return true;
}

/** Sentences, each keeping its closing punctuation (and quotes or brackets after it). */
function sentences(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    let end = -1;
    if (ch === '\n') {
      out.push(text.slice(start, i));
      start = i + 1;
      continue;
    }
    if ('!?;…。！？；'.includes(ch) || (ch === '.' && endsSentence(text, i))) {
      end = i + 1;
      while (end < text.length && /[.!?…"'”’)\]]/.test(text[end])) end++;
      // "Wait..." or "?!" stay with their sentence; CJK needs no space after.
      if (end < text.length && !/\s/.test(text[end]) && !'。！？；'.includes(ch)) continue;
    }
    if (end < 0) continue;
    out.push(text.slice(start, end));
    start = end;
    i = end - 1;
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Cuts a piece longer than `max` at the last comma/colon (else space) before it. */
function cut(piece: string, max: number): string[] {
  const out: string[] = [];
  let rest = piece;
  while (rest.length > max) {
    const window = rest.slice(0, max + 1);
    let at = Math.max(window.lastIndexOf(', '), window.lastIndexOf(': '), window.lastIndexOf('، '), window.lastIndexOf('，'));
    if (at >= MIN_PIECE_CHARS) at += 1;
    else at = window.lastIndexOf(' ');
    if (at < MIN_PIECE_CHARS) at = max; // one word longer than the limit
    out.push(rest.slice(0, at).trim());
    rest = rest.slice(at).trim();
  }
  if (rest.length > 0) out.push(rest);
  return out;
}

export function splitSpeechText(text: string, options: SplitOptions = {}): string[] {
  const maxChars = options.maxChars ?? 300;
  const firstMax = Math.min(options.firstMaxChars ?? maxChars, maxChars);
  const merged: string[] = [];
  for (const s of sentences(text)) {
    const last = merged[merged.length - 1];
    if (last !== undefined && (last.length < MIN_PIECE_CHARS || s.length < MIN_PIECE_CHARS) && last.length + 1 + s.length <= (merged.length === 1 ? firstMax : maxChars)) {
      merged[merged.length - 1] = /[。！？；]$/.test(last) ? `${last}${s}` : `${last} ${s}`;
    } else merged.push(s);
  }
  const pieces: string[] = [];
  for (const s of merged) {
    if (pieces.length === 0 && s.length > firstMax) {
      // Only the first piece has the tighter limit: the rest of its sentence is cut as usual.
      const [head] = cut(s, firstMax);
      pieces.push(head, ...cut(s.slice(head.length).trim(), maxChars));
    } else pieces.push(...cut(s, maxChars));
  }
  return pieces.filter((p) => p.length > 0);
}
