/**
 * What makes a random-weight Whisper decoder behave like a trained one: a logit bias, added to the
 * (small, audio-dependent) random logits, that writes short sentences and Whisper's timestamp tokens
 * where the audio has sound, and ends.
 *
 * - The bias follows the current input token through a small state machine: after
 *   <|startoftranscript|> a language (English first, as for language detection), then a task, then
 *   <|notimestamps|> or <|0.00|>; a sentence is one word from each of WORD_GROUPS in turn ("The
 *   quick fox runs today."), the random logits and the segment's sound (see whisper-decoder.ts)
 *   choosing within a group; after its last word comes the segment's end timestamp (or, without
 *   timestamps, the next sentence), then the next segment's start timestamp or <|endoftext|>.
 *   <|nospeech|> comes first after <|startoftranscript|> when the window is silent.
 * - Segment times come from the encoder's sound flags (channel 0 of encoder_hidden_states, see
 *   whisper-encoder.ts): a segment ends where its sound ends, or after MAX_SEGMENT_FRAMES, and the
 *   next starts at the next sound; no sound left means the end of the transcript. A 30 s window of
 *   continuous sound is six 5 s segments, a 2 s tone one segment of about 2 s.
 * - The start of the current segment must be remembered across decoding steps, and a decoder only
 *   sees its past through the key/value cache: two channels of layer 0's self-attention keys (whose
 *   queries are zeroed there, so attention does not see them) carry a marker per position
 *   (position * 2048 + segment start + 1) and a "no timestamps" flag.
 * - The cross-attention outputs (word-level timestamps) of the alignment heads are replaced by a peak
 *   at each token's place in its segment, so that DTW spreads a segment's words over its time span.
 */
import { OnnxGraph, OnnxType } from './onnx-graph';
import { ENCODER_FRAMES } from './whisper-layers';
import { WHISPER_TIMESTAMPS, type WhisperVocab } from './whisper-tokenizer';

/** A sentence is one word of each group in turn (each word one token). */
export const WORD_GROUPS: readonly (readonly string[])[] = [
  [' The', ' A', ' One', ' This', ' Every'],
  [' quick', ' small', ' happy', ' little', ' bright', ' quiet'],
  [' fox', ' bird', ' river', ' song', ' dog', ' child'],
  [' runs', ' sings', ' flows', ' jumps', ' sleeps', ' waits'],
  [' today', ' again', ' here', ' now', ' slowly', ' away'],
  ['.', '!', '?'],
];

/** The words of WORD_GROUPS that the vocabulary must hold as "Ġword" tokens (the rest are bytes). */
export const SENTENCE_WORDS: readonly string[] = WORD_GROUPS.flat()
  .filter((w) => w.startsWith(' '))
  .map((w) => w.slice(1));

/** Longest segment: 250 timestamp steps of 0.02 s. */
export const MAX_SEGMENT_FRAMES = 250;
/** A next segment needs at least this much window left (0.5 s); a cut leaves at least this much. */
const MIN_REST_FRAMES = 25;
const MARKER_STRIDE = 2048;
const BASE = -20;
const BIG = 1e6;

enum State {
  End = 0,
  Sot = 1,
  Language = 2,
  Task = 3,
  NoTimestamps = 4,
  Timestamp = 5,
  /** Word of group g (not the last group) is state FirstWord + g. */
  FirstWord = 6,
}

export interface TimingTables {
  /** State of each token (as input). */
  stateOf: Int32Array;
  /** [states, vocab] static bias. */
  bias: Float32Array;
  states: number;
  /** 1 for the word tokens (where the random logits count), else 0. */
  wordMask: Float32Array;
  /** 1 for the first group's words. */
  firstWords: Float32Array;
  /** Per state: where its token sits in a segment (0 start, 1 end), for the alignment peaks. */
  place: Float32Array;
}

/** Token ids of WORD_GROUPS in this vocabulary. */
export function wordGroupIds(v: WhisperVocab): number[][] {
  const byteLevel = (w: string): string => w.replace(/ /g, '\u0120');
  return WORD_GROUPS.map((group) =>
    group.map((w) => {
      const id = v.ids.get(byteLevel(w));
      if (id === undefined) throw new Error(`word '${w}' is not one token`);
      return id;
    }),
  );
}

export function buildTimingTables(v: WhisperVocab): TimingTables {
  const vocab = v.tokens.length;
  const groups = wordGroupIds(v);
  const states = State.FirstWord + groups.length - 1;
  const stateOf = new Int32Array(vocab).fill(State.End);
  stateOf[v.sot] = State.Sot;
  for (const id of v.languages.values()) stateOf[id] = State.Language;
  stateOf[v.transcribe] = State.Task;
  stateOf[v.translate] = State.Task;
  stateOf[v.noTimestamps] = State.NoTimestamps;
  for (let t = 0; t < WHISPER_TIMESTAMPS; t++) stateOf[v.timestampBegin + t] = State.Timestamp;
  groups.forEach((ids, g) => ids.forEach((id) => (stateOf[id] = g < groups.length - 1 ? State.FirstWord + g : State.End)));

  const bias = new Float32Array(states * vocab).fill(BASE);
  const set = (s: number, id: number, value: number): void => {
    bias[s * vocab + id] = value;
  };
  const setGroup = (s: number, g: number, value: number): void => groups[g]!.forEach((id) => set(s, id, value));
  set(State.End, v.eot, 5);
  for (const id of v.languages.values()) set(State.Sot, id, 4);
  set(State.Sot, v.languages.get('en')!, 8);
  set(State.Language, v.transcribe, 8);
  set(State.Language, v.translate, 4);
  set(State.Task, v.noTimestamps, 6);
  for (let t = 0; t < WHISPER_TIMESTAMPS; t++) set(State.Task, v.timestampBegin + t, 8 - 0.1 * t);
  setGroup(State.NoTimestamps, 0, 10);
  setGroup(State.Timestamp, 0, 10);
  set(State.Timestamp, v.eot, 5);
  for (let g = 0; g < groups.length - 1; g++) {
    setGroup(State.FirstWord + g, g + 1, 10);
    set(State.FirstWord + g, v.eot, -5);
  }

  const wordMask = new Float32Array(vocab);
  groups.flat().forEach((id) => (wordMask[id] = 1));
  const firstWords = new Float32Array(vocab);
  groups[0]!.forEach((id) => (firstWords[id] = 1));
  const place = new Float32Array(states);
  for (let g = 0; g < groups.length - 1; g++) place[State.FirstWord + g] = (g + 1) / groups.length;
  place[State.End] = 1;
  return { stateOf, bias, states, wordMask, firstWords, place };
}

function oneHot(size: number, at: number, value: number): Float32Array {
  const out = new Float32Array(size);
  out[at] = value;
  return out;
}

export interface TimingInputs {
  inputIds: string;
  /** Absolute positions of the current tokens, float [seq]. */
  positions: string;
  encoderHidden: string;
  /** Layer 0 key cache channels of the past positions, [batch, past]. */
  pastMarkers: string;
  pastNoTimestamps: string;
}

export interface TimingOutputs {
  /** Added to the logits, [batch, seq, vocab]. */
  bias: string;
  /** Cache channels for the current positions, [batch, seq]. */
  markers: string;
  noTimestamps: string;
  /** Designed cross-attention for the alignment heads, [batch, seq, 1500]. */
  alignment: string;
  /** Weights averaging the current segment's sound frames, [batch, 1, 1500] (all 0 in silence). */
  segmentSound: string;
}

export function buildTiming(g: OnnxGraph, v: WhisperVocab, tables: TimingTables, x: TimingInputs): TimingOutputs {
  const vocab = v.tokens.length;
  const f = (name: string): string => g.op('Cast', [name], { to: { int: OnnxType.FLOAT } });
  const c = (value: number): string => g.scalar(value);
  const axes = (name: string, values: number[]): string => g.int64s(g.fresh(name), [values.length], values);
  const unsqueeze = (t: string, ax: number[]): string => g.op('Unsqueeze', [t, axes('unsqueeze_axes', ax)]);
  const reduce = (op: string, t: string, ax: number[], keep: boolean): string => g.op(op, [t], { axes: ax, keepdims: { int: keep ? 1 : 0 } });
  const steps = Float32Array.from({ length: WHISPER_TIMESTAMPS }, (_, i) => i);
  const J = g.floats('timing_steps', [WHISPER_TIMESTAMPS], steps);

  // Sound per 20 ms frame, s[1500] := 0; sound ends at j when s[j-1] = 1 and s[j] = 0.
  const sound = g.op('Gather', [x.encoderHidden, g.int64s('sound_channel_index', [], [0])], { axis: { int: 2 } });
  const zeros = g.op('Mul', [reduce('ReduceMin', sound, [1], true), c(0)]);
  const s = g.op('Concat', [sound, zeros], { axis: { int: 1 } });
  const sPrev = g.op('Concat', [zeros, sound], { axis: { int: 1 } });
  const soundAt = unsqueeze(g.op('Greater', [s, c(0.5)]), [1]);
  const endsAt = unsqueeze(g.op('Greater', [g.op('Mul', [sPrev, g.op('Sub', [c(1), s])]), c(0.5)]), [1]);
  /** First step j (> or >= t) where `flags` holds, else BIG: [batch, n] from t [batch, n]. */
  const firstFrom = (flags: string, t: string, strict: boolean): string => {
    const T = unsqueeze(t, [2]);
    const after = strict ? g.op('Greater', [J, T]) : g.op('Not', [g.op('Less', [J, T])]);
    return reduce('ReduceMin', g.op('Where', [g.op('And', [flags, after]), J, c(BIG)]), [2], false);
  };

  const state = g.op('Gather', [g.int64s('timing_state_of', [vocab], tables.stateOf), x.inputIds]);
  const isEnd = f(g.op('Equal', [state, g.int64s('state_end', [], [State.End])]));
  const isTsBool = g.op('Not', [g.op('Less', [x.inputIds, g.int64s('timestamp_begin', [], [v.timestampBegin])])]);
  const isTs = f(isTsBool);
  const tIn = g.op('Mul', [f(g.op('Sub', [x.inputIds, g.int64s('timestamp_begin_i', [], [v.timestampBegin])])), isTs]);
  const isNt = f(g.op('Equal', [x.inputIds, g.int64s('no_timestamps_id', [], [v.noTimestamps])]));
  const isSot = f(g.op('Equal', [state, g.int64s('state_sot', [], [State.Sot])]));
  const anySound = reduce('ReduceMax', sound, [1], true);

  // Markers: timestamps and <|notimestamps|> (a segment starting at 0) open a segment.
  const base = g.op('Add', [g.op('Mul', [unsqueeze(x.positions, [0]), c(MARKER_STRIDE)]), c(1)]);
  const staticMarkers = g.op('Add', [g.op('Mul', [isTs, g.op('Add', [base, tIn])]), g.op('Mul', [isNt, base])]);
  const recent = reduce('ReduceMax', g.op('Concat', [x.pastMarkers, staticMarkers], { axis: { int: 1 } }), [1], true);
  const recentStep = g.op('Sub', [g.op('Sub', [recent, g.op('Mul', [g.op('Floor', [g.op('Div', [recent, c(MARKER_STRIDE)])]), c(MARKER_STRIDE)])]), c(1)]);
  const start = g.op('Max', [recentStep, c(0)]);
  const noTs = reduce('ReduceMax', g.op('Concat', [x.pastNoTimestamps, isNt], { axis: { int: 1 } }), [1], true);

  // The current segment's end, and the next segment's start: [batch, 1].
  // A run of sound longer than MAX_SEGMENT_FRAMES is cut there, unless it ends soon after (no
  // fragment segments, such as the spectrogram's 20 ms overhang after the audio ends).
  const runEnd = firstFrom(endsAt, start, true);
  const cut = g.op('Add', [start, c(MAX_SEGMENT_FRAMES)]);
  const runEndsSoon = g.op('Not', [g.op('Greater', [runEnd, g.op('Add', [cut, c(MIN_REST_FRAMES)])])]);
  const end = g.op('Min', [g.op('Where', [runEndsSoon, runEnd, cut]), c(WHISPER_TIMESTAMPS - 1)]);
  const next = firstFrom(soundAt, end, false);
  const hasNext = f(g.op('Less', [next, c(WHISPER_TIMESTAMPS - 1 - MIN_REST_FRAMES)]));
  // After a timestamp token: the next segment's start from there.
  const nextFromTs = firstFrom(soundAt, tIn, false);
  const hasNextFromTs = f(g.op('Less', [nextFromTs, c(WHISPER_TIMESTAMPS - 1 - MIN_REST_FRAMES)]));

  const pads = g.int64s(g.fresh('peak_pads'), [6], [0, 0, v.timestampBegin, 0, 0, vocab - v.timestampBegin - WHISPER_TIMESTAMPS]);
  /** Timestamp logits peaking at t (height over BASE), zero elsewhere: [batch, n, vocab]. */
  const peak = (t: string, height: number): string =>
    g.op('Pad', [g.op('Sub', [c(height - BASE), g.op('Mul', [g.op('Abs', [g.op('Sub', [J, unsqueeze(t, [2])])]), c(0.02)])]), pads]);
  const gate = (t: string): string => unsqueeze(t, [2]);
  const oneMinus = (t: string): string => g.op('Sub', [c(1), t]);
  const endWithTs = g.op('Mul', [isEnd, oneMinus(noTs)]);
  const endNextSentence = g.op('Mul', [g.op('Mul', [isEnd, noTs]), hasNext]);
  const bias = [
    g.op('Gather', [g.floats('timing_state_bias', [tables.states, vocab], tables.bias), state]),
    g.op('Mul', [peak(end, 3), gate(endWithTs)]),
    g.op('Mul', [peak(nextFromTs, 8), gate(g.op('Mul', [isTs, hasNextFromTs]))]),
    g.op('Mul', [g.floats('timing_first_words', [vocab], tables.firstWords), gate(g.op('Mul', [endNextSentence, c(30)]))]),
    // <|nospeech|> first after <|startoftranscript|> when the window has no sound (no_speech_prob).
    g.op('Mul', [g.floats('timing_no_speech', [vocab], oneHot(vocab, v.noSpeech, 30)), gate(g.op('Mul', [isSot, oneMinus(anySound)]))]),
  ].reduce((a, b) => g.op('Add', [a, b]));
  // Without timestamps a sentence's last word opens the next (virtual) segment.
  const markers = g.op('Add', [staticMarkers, g.op('Mul', [endNextSentence, g.op('Add', [base, next])])]);

  // Alignment peaks: a word's place between the segment's start and end; a timestamp at itself.
  const place = g.op('Gather', [g.floats('timing_place', [tables.states], tables.place), state]);
  const wordAt = g.op('Add', [start, g.op('Mul', [place, g.op('Sub', [end, start])])]);
  const target = g.op('Where', [isTsBool, tIn, wordAt]);
  const frames = g.floats('timing_frames', [ENCODER_FRAMES], steps.subarray(0, ENCODER_FRAMES));
  const distance = g.op('Sub', [frames, unsqueeze(target, [2])]);
  // A Gaussian of 8 frames (wide enough to outlast transformers.js's median filter of 7) on a faint
  // exponential tail: DTW, after transformers.js normalises each frame across tokens, then gives the
  // frames between and after the peaks to the nearest token, instead of to noise (or to 0 / 0).
  const peakPart = g.op('Exp', [g.op('Mul', [g.op('Mul', [distance, distance]), c(-1 / 128)])]);
  const tailPart = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Abs', [distance]), c(-1 / 100)])]), c(0.05)]);
  const weights = g.op('Add', [peakPart, tailPart]);
  // (ReduceSum takes its axes as an input since opset 13; ReduceMax and ReduceMin only from 18.)
  const alignment = g.op('Div', [weights, g.op('ReduceSum', [weights, axes('sum_axes', [2])], { keepdims: { int: 1 } })]);

  // The current segment's frames that hold sound, as averaging weights.
  const inSegment = g.op('And', [g.op('Not', [g.op('Less', [frames, start])]), g.op('Less', [frames, end])]);
  const soundInSegment = unsqueeze(g.op('Mul', [f(inSegment), sound]), [1]);
  const count = g.op('Max', [g.op('ReduceSum', [soundInSegment, axes('count_axes', [2])], { keepdims: { int: 1 } }), c(1)]);
  return { bias, markers, noTimestamps: isNt, alignment, segmentSound: g.op('Div', [soundInSegment, count]) };
}
