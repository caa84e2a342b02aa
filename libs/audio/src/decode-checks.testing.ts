/**
 * Checks the decoder specs share: how much of a decoded signal is the 440 Hz test tone, and that a
 * bad upload is refused as the client's 400 on `file`.
 */
import { Rejection } from '@switchyard/runtime';
import { rms, toneAmplitude } from '../../../test/support/audio-samples';
import type { DecodedAudio } from './audio-decoder';

/** The 440 Hz component's amplitude and share of the signal (1 for a clean tone), `margin` samples in from each end. */
export function toneOf(d: DecodedAudio, margin: number): { amplitude: number; purity: number } {
  const mid = d.samples.subarray(margin, d.samples.length - margin);
  const amplitude = toneAmplitude(mid, 16000, 440);
  return { amplitude, purity: amplitude / (rms(mid) * Math.SQRT2) };
}

/** Awaits a decode that must fail with a 400 Rejection on `file`, and returns it. */
export async function fileRejection(p: Promise<unknown>): Promise<Rejection> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Rejection);
  const r = err as Rejection;
  expect(r.status).toBe(400);
  expect(r.param).toBe('file');
  return r;
}
