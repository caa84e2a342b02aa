/**
 * Log probabilities of sampled tokens from node-llama-cpp's probability lists, in OpenAI's shape:
 * natural logs, the token's text and UTF-8 bytes, and the most likely alternatives, best first.
 */
import type { TokenLogprob, TopLogprob } from '@switchyard/contracts';

/** OpenAI reports impossible tokens with a large negative number rather than -Infinity. */
const FLOOR = -9999;

export function logOf(p: number | undefined): number {
  if (p === undefined || !(p > 0)) return FLOOR;
  return Math.max(FLOOR, Math.log(p));
}

/** The `n` most likely entries, best first, in one pass (the lists can be a whole vocabulary). */
export function topEntries<T>(probabilities: ReadonlyMap<T, number>, n: number): Array<[T, number]> {
  if (n <= 0) return [];
  const top: Array<[T, number]> = [];
  for (const entry of probabilities) {
    if (top.length === n && entry[1] <= top[n - 1][1]) continue;
    let i = top.length < n ? top.length : n - 1;
    if (top.length < n) top.push(entry);
    else top[i] = entry;
    while (i > 0 && top[i - 1][1] < top[i][1]) {
      [top[i - 1], top[i]] = [top[i], top[i - 1]];
      i--;
    }
  }
  return top;
}

export class TokenLogprobs<T> {
  private readonly texts = new Map<T, string>();

  constructor(private readonly textOf: (token: T) => string) {}

  private entry(token: T, p: number | undefined): TopLogprob {
    let text = this.texts.get(token);
    if (text === undefined) {
      text = this.textOf(token);
      if (this.texts.size < 65536) this.texts.set(token, text);
    }
    return { token: text, logprob: logOf(p), bytes: [...Buffer.from(text, 'utf8')] };
  }

  of(token: T, probabilities: ReadonlyMap<T, number> | undefined, top: number): TokenLogprob {
    const chosen = this.entry(token, probabilities?.get(token));
    const alternatives = probabilities ? topEntries(probabilities, top).map(([t, p]) => this.entry(t, p)) : [];
    return { ...chosen, top: alternatives };
  }
}
