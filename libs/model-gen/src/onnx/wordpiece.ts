/**
 * A generated BERT WordPiece tokenizer in Hugging Face's format (tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json), as transformers.js and the tokenizers library load it offline.
 *
 * Layout: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4, then punctuation, digits, letters, their
 * "##" continuations, common English words and suffix fragments. Lower-cased, like uncased BERT.
 */
import { COMMON_WORDS, WORD_FRAGMENTS } from '../tokenizer';
import { addedToken } from './hf-added-token';

export const WORDPIECE_SPECIALS = { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' } as const;

export interface WordPieceVocab {
  tokens: string[];
  ids: Map<string, number>;
  padId: number;
  unkId: number;
  clsId: number;
  sepId: number;
}

export function generateWordPieceVocab(): WordPieceVocab {
  const tokens: string[] = [];
  const ids = new Map<string, number>();
  const add = (t: string): void => {
    if (!ids.has(t)) {
      ids.set(t, tokens.length);
      tokens.push(t);
    }
  };
  Object.values(WORDPIECE_SPECIALS).forEach(add);
  for (const c of '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~') add(c);
  const singles = '0123456789abcdefghijklmnopqrstuvwxyz';
  for (const c of singles) add(c);
  for (const c of singles) add(`##${c}`);
  for (const w of COMMON_WORDS) add(w.toLowerCase());
  for (const f of WORD_FRAGMENTS) add(`##${f}`);
  return { tokens, ids, padId: 0, unkId: 1, clsId: 2, sepId: 3 };
}


/** tokenizer.json for a BERT WordPiece vocabulary (no fixed padding: callers pad per batch). */
export function wordPieceTokenizerJson(vocab: WordPieceVocab): object {
  const { pad, unk, cls, sep, mask } = WORDPIECE_SPECIALS;
  const seq = (id: 'A' | 'B', typeId: number): object => ({ Sequence: { id, type_id: typeId } });
  const tok = (id: string, typeId: number): object => ({ SpecialToken: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [pad, unk, cls, sep, mask].map((t) => addedToken(vocab.ids.get(t)!, t, true)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [tok(cls, 0), seq('A', 0), tok(sep, 0)],
      pair: [tok(cls, 0), seq('A', 0), tok(sep, 0), seq('B', 1), tok(sep, 1)],
      special_tokens: {
        [cls]: { id: cls, ids: [vocab.clsId], tokens: [cls] },
        [sep]: { id: sep, ids: [vocab.sepId], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.tokens.map((t, i) => [t, i])),
    },
  };
}

export function wordPieceTokenizerConfig(modelMaxLength: number): object {
  const { pad, unk, cls, sep, mask } = WORDPIECE_SPECIALS;
  return {
    clean_up_tokenization_spaces: true,
    cls_token: cls,
    do_basic_tokenize: true,
    do_lower_case: true,
    mask_token: mask,
    model_max_length: modelMaxLength,
    pad_token: pad,
    sep_token: sep,
    unk_token: unk,
    strip_accents: null,
    tokenize_chinese_chars: true,
    tokenizer_class: 'BertTokenizer',
  };
}

export function wordPieceSpecialTokensMap(): object {
  const { pad, unk, cls, sep, mask } = WORDPIECE_SPECIALS;
  return { cls_token: cls, mask_token: mask, pad_token: pad, sep_token: sep, unk_token: unk };
}
