/**
 * A generated Whisper tokenizer in Hugging Face's format (tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json): byte-level BPE as GPT-2 and Whisper use it, with Whisper's special tokens
 * laid out as the multilingual models have them.
 *
 * Layout: the 256 byte tokens in GPT-2's order (so id 220 is "Ġ", a space), then "Ġ"-prefixed common
 * English words built by one merge per character, then (for real-size vocabularies) unreachable filler
 * tokens up to `baseSize`; then <|endoftext|>, <|startoftranscript|>, the 99 language tokens in
 * Whisper's order, <|translate|>, <|transcribe|>, <|startoflm|>, <|startofprev|>, <|nospeech|>,
 * <|notimestamps|> and the 1501 timestamp tokens <|0.00|> ... <|30.00|>. With `baseSize` 50257 every
 * special token has the id it has in openai/whisper-{tiny,base,small,medium}.
 */
import { COMMON_WORDS } from '../tokenizer';
import { addedToken } from './hf-added-token';

/** Whisper's languages in token order (openai/whisper's LANGUAGES, without large-v3's "yue"). */
export const WHISPER_LANGUAGES: readonly string[] = (
  'en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la ' +
  'mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be ' +
  'tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su'
).split(' ');

/** Timestamp tokens: 0.00 s to 30.00 s in 0.02 s steps. */
export const WHISPER_TIMESTAMPS = 1501;

/** Size of the BPE part of the real multilingual vocabulary (the specials start here). */
export const WHISPER_BASE_VOCAB = 50257;

/** Byte-level characters that Whisper's generation config suppresses (as the real models do). */
const SUPPRESSED_BYTES = '"#()*+/:;<=>@[\\]^_`{|}~';

export interface WhisperVocab {
  /** All tokens by id, specials included. */
  tokens: string[];
  ids: Map<string, number>;
  /** Number of BPE tokens (byte tokens, words, filler). */
  baseSize: number;
  merges: string[];
  eot: number;
  sot: number;
  /** Language code (en, de, ...) to token id. */
  languages: Map<string, number>;
  translate: number;
  transcribe: number;
  startOfLm: number;
  startOfPrev: number;
  noSpeech: number;
  noTimestamps: number;
  /** Id of <|0.00|>; <|t|> is timestampBegin + t / 0.02. */
  timestampBegin: number;
  /** Id of "Ġ" (a lone space), which Whisper suppresses at the start. */
  space: number;
  /** Ids of the byte tokens Whisper's generation config suppresses. */
  suppressed: number[];
}

/**
 * GPT-2's byte-to-character table: printable bytes stand for themselves, the others for U+0100
 * onwards. `tokens` is in token-id order, `byByte` indexed by byte.
 */
export function byteLevelTables(): { tokens: string[]; byByte: string[] } {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const byByte = new Array<string>(256);
  for (const b of printable) byByte[b] = String.fromCharCode(b);
  const tokens = printable.map((b) => byByte[b]!);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (byByte[b] === undefined) {
      byByte[b] = String.fromCharCode(256 + n++);
      tokens.push(byByte[b]!);
    }
  }
  return { tokens, byByte };
}

/** Text as byte-level characters (its UTF-8 bytes through the GPT-2 table). */
export function toByteLevel(text: string, byByte = byteLevelTables().byByte): string {
  return Array.from(new TextEncoder().encode(text), (b) => byByte[b]!).join('');
}

/**
 * Builds the vocabulary. `baseSize` (at least the natural size, about 1,300) pads the BPE part with
 * filler tokens so that the specials sit where the real models have them.
 */
export function generateWhisperVocab(options: { baseSize?: number; extraWords?: readonly string[] } = {}): WhisperVocab {
  const { tokens: byteTokens, byByte } = byteLevelTables();
  const tokens: string[] = [];
  const ids = new Map<string, number>();
  const merges: string[] = [];
  const add = (t: string): number => {
    let id = ids.get(t);
    if (id === undefined) {
      id = tokens.length;
      ids.set(t, id);
      tokens.push(t);
    }
    return id;
  };
  byteTokens.forEach(add);
  // Each word "Ġabc" is built as (Ġ a), (Ġa b), (Ġab c): chains that only meet at their first symbol,
  // so every listed word encodes to one token whatever the merge order between chains.
  const words = [...new Set([...(options.extraWords ?? []), ...COMMON_WORDS])];
  for (const w of words) {
    const chars = Array.from(toByteLevel(` ${w}`, byByte));
    let prefix = chars[0]!;
    for (const c of chars.slice(1)) {
      const next = prefix + c;
      if (!ids.has(next)) {
        merges.push(`${prefix} ${c}`);
        add(next);
      }
      prefix = next;
    }
  }
  const baseSize = Math.max(options.baseSize ?? tokens.length, tokens.length);
  // Filler: decodable but never produced by encoding (no merges lead to it).
  for (let i = 0; tokens.length < baseSize; i++) add(`${byByte[32]}zz${i.toString(36)}`);

  const special = (t: string): number => add(t);
  const eot = special('<|endoftext|>');
  const sot = special('<|startoftranscript|>');
  const languages = new Map(WHISPER_LANGUAGES.map((l) => [l, special(`<|${l}|>`)]));
  const translate = special('<|translate|>');
  const transcribe = special('<|transcribe|>');
  const startOfLm = special('<|startoflm|>');
  const startOfPrev = special('<|startofprev|>');
  const noSpeech = special('<|nospeech|>');
  const noTimestamps = special('<|notimestamps|>');
  const timestampBegin = tokens.length;
  for (let i = 0; i < WHISPER_TIMESTAMPS; i++) add(`<|${(i * 0.02).toFixed(2)}|>`);
  return {
    tokens,
    ids,
    baseSize,
    merges,
    eot,
    sot,
    languages,
    translate,
    transcribe,
    startOfLm,
    startOfPrev,
    noSpeech,
    noTimestamps,
    timestampBegin,
    space: ids.get(byByte[32]!)!,
    suppressed: Array.from(SUPPRESSED_BYTES, (c) => ids.get(c)!),
  };
}


/**
 * tokenizer.json. Timestamp tokens are added but not special, as in current Hugging Face exports:
 * transformers.js's Whisper decoding tells them apart by id, and would drop them as special tokens.
 */
export function whisperTokenizerJson(v: WhisperVocab): object {
  const added = v.tokens.slice(v.baseSize).map((t, i) => addedToken(v.baseSize + i, t, v.baseSize + i < v.timestampBegin));
  const specialRef = (id: string): object => ({ SpecialToken: { id, type_id: 0 } });
  const specialEntry = (t: string): [string, object] => [t, { id: t, ids: [v.ids.get(t)], tokens: [t] }];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    // What openai/whisper-* ship: encoding with special tokens adds the transcription prefix.
    post_processor: {
      type: 'TemplateProcessing',
      single: [specialRef('<|startoftranscript|>'), specialRef('<|notimestamps|>'), { Sequence: { id: 'A', type_id: 0 } }, specialRef('<|endoftext|>')],
      pair: [
        specialRef('<|startoftranscript|>'),
        specialRef('<|notimestamps|>'),
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        specialRef('<|endoftext|>'),
      ],
      special_tokens: Object.fromEntries(['<|endoftext|>', '<|startoftranscript|>', '<|notimestamps|>'].map(specialEntry)),
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(v.tokens.slice(0, v.baseSize).map((t, i) => [t, i])),
      merges: v.merges,
    },
  };
}

export function whisperTokenizerConfig(): object {
  const eot = { __type: 'AddedToken', content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false };
  return {
    add_bos_token: false,
    add_prefix_space: false,
    bos_token: eot,
    eos_token: eot,
    unk_token: eot,
    pad_token: eot,
    clean_up_tokenization_spaces: true,
    errors: 'replace',
    model_max_length: 1024,
    processor_class: 'WhisperProcessor',
    return_attention_mask: false,
    tokenizer_class: 'WhisperTokenizer',
  };
}

export function whisperSpecialTokensMap(v: WhisperVocab): object {
  return {
    additional_special_tokens: v.tokens.slice(v.baseSize, v.timestampBegin),
    bos_token: '<|endoftext|>',
    eos_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
  };
}
