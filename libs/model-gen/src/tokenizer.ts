/**
 * Generates a SentencePiece-style ("llama" tokenizer.ggml.model) vocabulary for synthetic models.
 *
 * Layout: <unk>=0, <s>=1, </s>=2, <0x00>..<0xFF> (byte fallback, ids 3..258), <|im_start|>, <|im_end|>
 * (control), optionally <think>, </think> (user-defined), then normal pieces: "▁", printable ASCII
 * characters and their "▁"-prefixed variants, common English words (with every prefix, so llama.cpp's
 * bigram-merging SPM tokenizer can always build the whole word), suffix fragments, and generated
 * letter combinations as padding up to the requested size.
 */
import { gguf, type GgufValue } from './gguf-writer';

/** llama.cpp `llama_token_type` values stored in tokenizer.ggml.token_type. */
export enum TokenType {
  UNDEFINED = 0,
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** SentencePiece whitespace marker. */
export const SPM_SPACE = '\u2581';

export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';
export const THINK_START = '<think>';
export const THINK_END = '</think>';

export interface VocabOptions {
  /** Total number of tokens (default 1024). */
  vocabSize?: number;
  /** Add <think> and </think> user-defined tokens. */
  thinking?: boolean;
}

export interface GeneratedVocab {
  tokens: string[];
  scores: Float32Array;
  tokenTypes: Int32Array;
  unkTokenId: number;
  bosTokenId: number;
  /** `</s>`: kept for completeness; the model's eos is <|im_end|>. */
  eosPieceId: number;
  /** tokenizer.ggml.eos_token_id (= <|im_end|>, so chat turns end there). */
  eosTokenId: number;
  imStartId: number;
  imEndId: number;
  thinkStartId?: number;
  thinkEndId?: number;
  /** First id of the normal (type 1) tokens. */
  firstNormalId: number;
  /** Number of common-word tokens that made it into the vocabulary. */
  wordCount: number;
  /** 1 for tokens that are a whole common word ("▁the", "▁Once", ...), else 0. */
  isWord: Uint8Array;
}

/** Common English words, most useful first (the tiny vocab keeps only the head of this list). */
export const COMMON_WORDS: readonly string[] = [
  'the', 'a', 'and', 'to', 'was', 'of', 'in', 'he', 'she', 'it', 'they', 'once', 'upon', 'time', 'there',
  'little', 'girl', 'boy', 'hello', 'world', 'Hello', 'hi', 'Hi', 'user', 'assistant', 'system', 'is',
  'you', 'I', 'The', 'Once', 'There', 'She', 'He', 'It', 'They', 'One', 'day', 'her', 'his', 'with', 'for', 'on', 'that', 'had', 'said', 'be', 'at', 'as', 'not',
  'but', 'we', 'all', 'so', 'up', 'out', 'very', 'big', 'happy', 'sad', 'dog', 'cat', 'friend', 'play',
  'went', 'saw', 'this', 'one', 'have', 'are', 'were', 'what', 'when', 'who', 'how', 'can', 'will', 'do',
  'go', 'see', 'like', 'love', 'good', 'new', 'old', 'man', 'woman', 'home', 'house', 'tree', 'park', 'sun',
  'sky', 'blue', 'red', 'green', 'ball', 'toy', 'mom', 'dad', 'named', 'wanted', 'asked', 'help', 'look',
  'found', 'made', 'came', 'some', 'then', 'them', 'from', 'an', 'by', 'my', 'me', 'your', 'no', 'yes',
  'or', 'if', 'did', 'get', 'got', 'just', 'about', 'into', 'after', 'back', 'away', 'too', 'more', 'way',
  'many', 'could', 'would', 'know', 'think', 'thought', 'felt', 'fun', 'together', 'again', 'always', 'never',
  'lived', 'small', 'bird', 'fish', 'water', 'food', 'eat', 'run', 'jump', 'walk', 'talk', 'say', 'smile',
  'laugh', 'cry', 'best', 'first', 'last', 'long', 'night', 'morning', 'garden', 'flower', 'box',
  'car', 'book', 'story', 'magic', 'forest', 'river', 'king', 'queen', 'because', 'where', 'why',
  'here', 'now', 'than', 'other', 'people', 'year', 'work', 'life', 'hand', 'part', 'place', 'case', 'week',
  'point', 'number', 'group', 'problem', 'fact', 'make', 'take', 'come', 'give', 'find', 'tell', 'feel',
  'try', 'leave', 'call', 'need', 'keep', 'let', 'begin', 'show', 'hear', 'turn', 'start', 'might', 'move',
  'live', 'believe', 'bring', 'happen', 'write', 'sit', 'stand', 'lose', 'pay', 'meet', 'learn', 'change',
  'lead', 'understand', 'watch', 'follow', 'stop', 'create', 'speak', 'read', 'spend', 'grow', 'open', 'win',
  'teach', 'offer', 'remember', 'consider', 'appear', 'buy', 'serve', 'die', 'send', 'build', 'stay', 'fall',
  'cut', 'reach', 'kill', 'raise', 'pass', 'sell', 'decide', 'return', 'explain', 'hope', 'develop', 'carry',
  'break', 'receive', 'agree', 'support', 'hit', 'produce', 'cover', 'catch', 'draw', 'choose', 'great',
  'high', 'different', 'large', 'next', 'early', 'young', 'important', 'few', 'public', 'bad', 'same', 'able',
  'child', 'children', 'school', 'state', 'family', 'student', 'country', 'question', 'money', 'thing',
  'things', 'ice', 'cream', 'cake', 'rain', 'snow', 'wind', 'moon', 'star', 'stars', 'door',
  'window', 'room', 'bed', 'sleep', 'dream', 'name', 'head', 'eyes', 'face', 'heart', 'kind', 'nice',
  'pretty', 'brave', 'scared', 'funny', 'quiet', 'loud', 'fast', 'slow', 'hot', 'cold', 'yellow', 'white',
  'black', 'bear', 'bunny', 'duck', 'frog', 'mouse', 'lion', 'horse', 'shiny', 'special', 'every', 'each',
  'both', 'only', 'also', 'well', 'even', 'still', 'down', 'over', 'under', 'around', 'before', 'through',
  'while', 'should', 'must', 'shall', 'may', 'which', 'their', 'our', 'us', 'him', 'its', 'been', 'being',
  'has', 'does', 'done', 'going', 'playing', 'looked', 'looking', 'loved', 'liked', 'started',
  'decided', 'Lily', 'Tom', 'Ben', 'Sue', 'Max', 'Mia', 'Tim', 'Anna', 'Sam', 'Yes', 'No', 'But',
  'And', 'When', 'What', 'We', 'You', 'Mom', 'Dad', 'thank', 'thanks', 'please', 'sorry',
  'answer', 'model', 'test', 'data', 'text', 'word', 'words', 'code', 'file',
  'server', 'request', 'response', 'token', 'tokens', 'message', 'example', 'result', 'value', 'true',
  'false', 'null', 'list', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
];

/** Suffix/continuation fragments (no space marker). */
export const WORD_FRAGMENTS: readonly string[] = [
  's', 'ed', 'ing', 'er', 'ly', 'es', 'est', 'y', 'ion', 'tion', 'ness', 'ment', 'ful', 'less', 'able', 'al',
  'en', 'an', 'in', 'on', 'or', 'ar', 're', 'th', 'he', 'st', 'nd', 'ou', 'ea', 'ch', 'sh', 'll', 'ss', 'ck',
  'ight', 'ter', 'ers', 'ies', 'ent', 'ant', 'ous', 'ive', 'ize', 'ise', 'ity', 'ism', 'ist', 'age', 'ance',
  'ence', 'dom', 'ship', 'hood', 'ward', 'wise', 'like', 'ish', 'ic', 'ical', 'ally', 'ated', 'ation',
];

const PUNCT_PIECES: readonly string[] = [
  '..', '...', '!!', '??', '?!', "'s", "'t", "'re", "'ll", "'ve", "'m", "'d", '--', '."', ',"', '!"', '?"',
];

const NUMBER_PIECES: readonly string[] = ['10', '100', '12', '20', '2024', '2025', '00', '000'];

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** Enumerates lowercase letter strings of length `len` in lexicographic order. */
function* letterStrings(len: number): Generator<string> {
  const idx = new Array<number>(len).fill(0);
  for (;;) {
    yield idx.map((i) => String.fromCharCode(97 + i)).join('');
    let p = len - 1;
    while (p >= 0 && idx[p] === 25) idx[p--] = 0;
    if (p < 0) return;
    idx[p]!++;
  }
}

/** Minimum vocabulary size: specials + bytes + control tokens + single-character pieces. */
export function minimumVocabSize(thinking = false): number {
  return 3 + 256 + 2 + (thinking ? 2 : 0) + 1 + 94 * 2;
}

export function generateVocab(options: VocabOptions = {}): GeneratedVocab {
  const vocabSize = options.vocabSize ?? 1024;
  const thinking = options.thinking ?? false;
  const min = minimumVocabSize(thinking);
  if (!Number.isInteger(vocabSize) || vocabSize < min) {
    throw new Error(`vocabSize must be an integer >= ${min}, got ${vocabSize}`);
  }

  const tokens: string[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  const add = (piece: string, type: TokenType): boolean => {
    if (seen.has(piece) || tokens.length >= vocabSize) return false;
    seen.add(piece);
    tokens.push(piece);
    types.push(type);
    return true;
  };

  add('<unk>', TokenType.UNKNOWN);
  add('<s>', TokenType.CONTROL);
  add('</s>', TokenType.CONTROL);
  for (let b = 0; b < 256; b++) add(byteToken(b), TokenType.BYTE);
  const imStartId = tokens.length;
  add(IM_START, TokenType.CONTROL);
  const imEndId = tokens.length;
  add(IM_END, TokenType.CONTROL);
  let thinkStartId: number | undefined;
  let thinkEndId: number | undefined;
  if (thinking) {
    thinkStartId = tokens.length;
    add(THINK_START, TokenType.USER_DEFINED);
    thinkEndId = tokens.length;
    add(THINK_END, TokenType.USER_DEFINED);
  }

  const firstNormalId = tokens.length;
  const normal = (piece: string): boolean => add(piece, TokenType.NORMAL);
  normal(SPM_SPACE);
  const printable: string[] = [];
  for (let c = 0x21; c <= 0x7e; c++) printable.push(String.fromCharCode(c));
  for (const ch of printable) normal(ch);
  for (const ch of printable) normal(SPM_SPACE + ch);

  // Adds `piece` after all of its prefixes (so bigram merging can always reach it).
  const withPrefixes = (piece: string): boolean => {
    const chars = [...piece];
    for (let i = 2; i <= chars.length; i++) {
      const prefix = chars.slice(0, i).join('');
      if (!seen.has(prefix) && !normal(prefix)) return false;
    }
    return seen.has(piece);
  };

  const wordPieces = new Set<string>();
  for (const w of COMMON_WORDS) {
    if (tokens.length >= vocabSize) break;
    if (withPrefixes(SPM_SPACE + w)) wordPieces.add(SPM_SPACE + w);
  }
  for (const piece of [...WORD_FRAGMENTS, ...PUNCT_PIECES, ...NUMBER_PIECES, SPM_SPACE + SPM_SPACE]) {
    if (tokens.length >= vocabSize) break;
    withPrefixes(piece);
  }
  // Bare (space-less) words help mid-word continuations and text after punctuation.
  for (const w of COMMON_WORDS) {
    if (tokens.length >= vocabSize) break;
    if (w.length > 1) withPrefixes(w);
  }
  // Padding: letter pairs, triples, ... with and without the space marker.
  for (let len = 2; tokens.length < vocabSize; len++) {
    for (const s of letterStrings(len)) {
      if (tokens.length >= vocabSize) break;
      normal(s);
      normal(SPM_SPACE + s);
    }
  }

  // Scores: SentencePiece-like log-prob ordering. Longer pieces score higher, and earlier (more
  // common) pieces of the same length score higher. Non-normal tokens get 0.
  const scores = new Float32Array(tokens.length);
  for (let id = firstNormalId; id < tokens.length; id++) {
    const len = [...tokens[id]!].length;
    scores[id] = -100 + len - (id - firstNormalId) / tokens.length;
  }

  return {
    tokens,
    scores,
    tokenTypes: Int32Array.from(types),
    unkTokenId: 0,
    bosTokenId: 1,
    eosPieceId: 2,
    eosTokenId: imEndId,
    imStartId,
    imEndId,
    thinkStartId,
    thinkEndId,
    firstNormalId,
    wordCount: wordPieces.size,
    isWord: Uint8Array.from(tokens, (t) => (wordPieces.has(t) ? 1 : 0)),
  };
}

/** tokenizer.* GGUF metadata for `vocab` (plus tokenizer.chat_template unless it is null/undefined). */
export function tokenizerMetadata(vocab: GeneratedVocab, chatTemplate?: string | null): Record<string, GgufValue> {
  const md: Record<string, GgufValue> = {
    'tokenizer.ggml.model': gguf.string('llama'),
    'tokenizer.ggml.tokens': gguf.stringArray(vocab.tokens),
    'tokenizer.ggml.scores': gguf.float32Array(vocab.scores),
    'tokenizer.ggml.token_type': gguf.int32Array(vocab.tokenTypes),
    'tokenizer.ggml.bos_token_id': gguf.uint32(vocab.bosTokenId),
    'tokenizer.ggml.eos_token_id': gguf.uint32(vocab.eosTokenId),
    'tokenizer.ggml.eot_token_id': gguf.uint32(vocab.imEndId),
    'tokenizer.ggml.unknown_token_id': gguf.uint32(vocab.unkTokenId),
    'tokenizer.ggml.add_bos_token': gguf.bool(true),
    'tokenizer.ggml.add_eos_token': gguf.bool(false),
    'tokenizer.ggml.add_space_prefix': gguf.bool(true),
  };
  if (chatTemplate != null) md['tokenizer.chat_template'] = gguf.string(chatTemplate);
  return md;
}

// ---------------------------------------------------------------------------------------------
// Reference SPM tokenizer (mirrors llama.cpp's llm_tokenizer_spm for normal text; no special-token
// parsing). Used by tests and handy for predicting token counts without loading a model.
// ---------------------------------------------------------------------------------------------

export class SpmTokenizer {
  private readonly ids = new Map<string, number>();

  constructor(private readonly vocab: Pick<GeneratedVocab, 'tokens' | 'scores' | 'tokenTypes'>) {
    vocab.tokens.forEach((t, i) => {
      const type = vocab.tokenTypes[i];
      if (type === TokenType.NORMAL) this.ids.set(t, i);
    });
  }

  /** Tokenizes plain text the way llama.cpp does for SPM (space prefix, ▁ for spaces, byte fallback). */
  encode(text: string, addSpacePrefix = true): number[] {
    if (text.length === 0) return [];
    const normalized = (addSpacePrefix ? ' ' + text : text).replace(/ /g, SPM_SPACE);
    // Linked list of symbols, merged greedily by best resulting-piece score (leftmost on ties).
    const sym = [...normalized];
    const next = sym.map((_, i) => i + 1);
    for (;;) {
      let best = -1;
      let bestScore = -Infinity;
      // symbol 0 is never merged away (merges remove the right-hand symbol)
      for (let i = 0; next[i]! < sym.length; i = next[i]!) {
        const id = this.ids.get(sym[i]! + sym[next[i]!]!);
        if (id === undefined) continue;
        const score = this.vocab.scores[id]!;
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
      if (best < 0) break;
      const j = next[best]!;
      sym[best] = sym[best]! + sym[j]!;
      next[best] = next[j]!;
    }
    const out: number[] = [];
    for (let i = 0; i < sym.length; i = next[i]!) {
      const id = this.ids.get(sym[i]!);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of Buffer.from(sym[i]!, 'utf8')) out.push(3 + b); // <0xXX> tokens start at id 3
    }
    return out;
  }

  /** Detokenizes ids (normal pieces, ▁ -> space, byte tokens -> raw bytes; control tokens verbatim). */
  decode(ids: readonly number[], removeSpacePrefix = true): string {
    const bytes: number[] = [];
    for (const id of ids) {
      const piece = this.vocab.tokens[id];
      if (piece === undefined) throw new Error(`token id ${id} out of range`);
      if (this.vocab.tokenTypes[id] === TokenType.BYTE) {
        bytes.push(parseInt(piece.slice(3, 5), 16));
      } else {
        bytes.push(...Buffer.from(piece.split(SPM_SPACE).join(' '), 'utf8'));
      }
    }
    const s = Buffer.from(bytes).toString('utf8');
    return removeSpacePrefix && s.startsWith(' ') ? s.slice(1) : s;
  }
}
