/**
 * Which speaker of a voice model a request's `voice` names: OpenAI's built-in names map onto the
 * model's speakers in turn (alloy 0, ash 1, ...), the models file's `voices` add the model's own
 * names and override that mapping, and a plain number is a speaker id. The gateway checks names
 * with it (400 for an unknown one) and lists voices; the worker, which knows the speaker count,
 * picks the speaker.
 */
import type { VoiceOptions } from './onnx-models';

/** OpenAI's built-in voices, in the order they map onto speakers. */
export const OPENAI_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar'] as const;

const SPEAKER_ID = /^(0|[1-9][0-9]{0,5})$/;

export interface VoiceEntry {
  /** The name a request uses. */
  id: string;
  /** The speaker it picks; null when the speaker count is not known here. */
  speaker: number | null;
  /** True for OpenAI's built-in names. */
  openai: boolean;
}

/**
 * The speaker `voice` names, given the model's speaker count, or undefined for a name the model
 * does not have. A speaker id past the count is returned as is, for the worker to refuse.
 */
export function voiceSpeaker(voice: string, options: Pick<VoiceOptions, 'voices'>, speakers: number): number | undefined {
  if (Object.prototype.hasOwnProperty.call(options.voices, voice)) return options.voices[voice];
  const builtIn = (OPENAI_VOICES as readonly string[]).indexOf(voice.toLowerCase());
  if (builtIn >= 0) return builtIn % Math.max(1, speakers);
  if (SPEAKER_ID.test(voice)) return Number(voice);
  return undefined;
}

/** True when `voice` names a voice of the model (the gateway's check, before the speaker count is known). */
export function isKnownVoice(voice: string, options: Pick<VoiceOptions, 'voices'>): boolean {
  return voiceSpeaker(voice, options, 1) !== undefined;
}

/** Every name a request may use for the model: its own voices first, then OpenAI's. */
export function listVoices(options: Pick<VoiceOptions, 'voices'>, speakers?: number): VoiceEntry[] {
  const own = Object.entries(options.voices)
    .filter(([id]) => !(OPENAI_VOICES as readonly string[]).includes(id))
    .map(([id, speaker]) => ({ id, speaker, openai: false }));
  const builtIn = OPENAI_VOICES.map((id) => ({ id, speaker: speakers === undefined && !(id in options.voices) ? null : (voiceSpeaker(id, options, speakers ?? 1) ?? null), openai: true }));
  return [...own, ...builtIn];
}
