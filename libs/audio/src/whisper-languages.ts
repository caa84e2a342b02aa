/**
 * Whisper's languages: ISO 639-1 code (as a client sends `language`) to the lower-case English name
 * (what OpenAI's verbose_json reports as `language`), in the order of Whisper's language tokens.
 * Cantonese (`yue`) exists only in large-v3 and later.
 */
export const WHISPER_LANGUAGES: Readonly<Record<string, string>> = {
  en: 'english', zh: 'chinese', de: 'german', es: 'spanish', ru: 'russian', ko: 'korean', fr: 'french',
  ja: 'japanese', pt: 'portuguese', tr: 'turkish', pl: 'polish', ca: 'catalan', nl: 'dutch', ar: 'arabic',
  sv: 'swedish', it: 'italian', id: 'indonesian', hi: 'hindi', fi: 'finnish', vi: 'vietnamese', he: 'hebrew',
  uk: 'ukrainian', el: 'greek', ms: 'malay', cs: 'czech', ro: 'romanian', da: 'danish', hu: 'hungarian', ta: 'tamil',
  no: 'norwegian', th: 'thai', ur: 'urdu', hr: 'croatian', bg: 'bulgarian', lt: 'lithuanian', la: 'latin',
  mi: 'maori', ml: 'malayalam', cy: 'welsh', sk: 'slovak', te: 'telugu', fa: 'persian', lv: 'latvian', bn: 'bengali',
  sr: 'serbian', az: 'azerbaijani', sl: 'slovenian', kn: 'kannada', et: 'estonian', mk: 'macedonian', br: 'breton',
  eu: 'basque', is: 'icelandic', hy: 'armenian', ne: 'nepali', mn: 'mongolian', bs: 'bosnian', kk: 'kazakh',
  sq: 'albanian', sw: 'swahili', gl: 'galician', mr: 'marathi', pa: 'punjabi', si: 'sinhala', km: 'khmer',
  sn: 'shona', yo: 'yoruba', so: 'somali', af: 'afrikaans', oc: 'occitan', ka: 'georgian', be: 'belarusian',
  tg: 'tajik', sd: 'sindhi', gu: 'gujarati', am: 'amharic', yi: 'yiddish', lo: 'lao', uz: 'uzbek', fo: 'faroese',
  ht: 'haitian creole', ps: 'pashto', tk: 'turkmen', nn: 'nynorsk', mt: 'maltese', sa: 'sanskrit',
  lb: 'luxembourgish', my: 'myanmar', bo: 'tibetan', tl: 'tagalog', mg: 'malagasy', as: 'assamese', tt: 'tatar',
  haw: 'hawaiian', ln: 'lingala', ha: 'hausa', ba: 'bashkir', jw: 'javanese', su: 'sundanese', yue: 'cantonese',
};

const BY_NAME = new Map(Object.entries(WHISPER_LANGUAGES).map(([code, name]) => [name, code]));

/** The language's name for a code, a name or a `<|xx|>` token (any case); undefined when Whisper has none such. */
export function whisperLanguageName(codeOrName: string): string | undefined {
  const key = codeOrName.trim().toLowerCase().replace(/^<\|(.+)\|>$/, '$1');
  if (Object.hasOwn(WHISPER_LANGUAGES, key)) return WHISPER_LANGUAGES[key];
  return BY_NAME.has(key) ? key : undefined;
}

/** The language's code for a code, a name or a `<|xx|>` token (any case); undefined when Whisper has none such. */
export function whisperLanguageCode(codeOrName: string): string | undefined {
  const name = whisperLanguageName(codeOrName);
  return name === undefined ? undefined : BY_NAME.get(name);
}
