/**
 * The generated VITS voices load in sherpa-onnx (the engine that serves them) and behave like a
 * voice: more text is more audio, speed scales the length, speakers differ, and one input always
 * gives the same samples.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateVitsModel, VITS_HOP } from './vits-model';

interface Tts {
  numSpeakers: number;
  sampleRate: number;
  generateAsync(r: { text: string; sid: number; speed: number }): Promise<{ samples: Float32Array; sampleRate: number }>;
}
const sherpa = createRequire(__filename)('sherpa-onnx-node') as { OfflineTts: { createAsync(c: object): Promise<Tts> } };

function load(model: { modelPath: string; tokensPath: string }): Promise<Tts> {
  return sherpa.OfflineTts.createAsync({ model: { vits: { model: model.modelPath, tokens: model.tokensPath }, numThreads: 1, provider: 'cpu', debug: false }, maxNumSentences: 1 });
}

function rms(s: Float32Array): number {
  let sum = 0;
  for (const v of s) sum += v * v;
  return Math.sqrt(sum / Math.max(1, s.length));
}

jest.setTimeout(60_000);

describe('generateVitsModel', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'vits-model-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('tiny: a two-speaker 16 kHz voice whose length follows the text and the speed', async () => {
    const model = generateVitsModel({ dir: join(root, 'tiny'), shape: 'tiny', seed: 1 });
    expect(model.speakers).toBe(2);
    const tts = await load(model);
    expect(tts.numSpeakers).toBe(2);
    expect(tts.sampleRate).toBe(16000);
    const text = 'Hello there, this is a test of the voice.';
    const one = (await tts.generateAsync({ text, sid: 0, speed: 1 })).samples;
    expect(one.length % VITS_HOP).toBe(0);
    expect(one.every((v) => Number.isFinite(v))).toBe(true);
    expect(rms(one)).toBeGreaterThan(0.01);
    expect(new Set(one.slice(0, 2000)).size).toBeGreaterThan(100);
    // About five frames of 256 samples per character.
    expect(one.length / VITS_HOP / text.length).toBeGreaterThan(3);
    expect(one.length / VITS_HOP / text.length).toBeLessThan(9);
    const longer = (await tts.generateAsync({ text: `${text} ${text}`, sid: 0, speed: 1 })).samples;
    expect(longer.length).toBeGreaterThan(one.length * 1.8);
    const slow = (await tts.generateAsync({ text, sid: 0, speed: 0.5 })).samples;
    const fast = (await tts.generateAsync({ text, sid: 0, speed: 2 })).samples;
    expect(slow.length / one.length).toBeGreaterThan(1.7);
    expect(slow.length / one.length).toBeLessThan(2.3);
    expect(fast.length / one.length).toBeGreaterThan(0.4);
    expect(fast.length / one.length).toBeLessThan(0.65);
    const again = (await tts.generateAsync({ text, sid: 0, speed: 1 })).samples;
    expect(Buffer.from(again.buffer).equals(Buffer.from(one.buffer))).toBe(true);
    const other = (await tts.generateAsync({ text, sid: 1, speed: 1 })).samples;
    expect(other.length).toBe(one.length);
    expect(Buffer.from(other.buffer).equals(Buffer.from(one.buffer))).toBe(false);
  });

  it('piper-x-low: a one-speaker 16 kHz voice, frames of 256 samples', async () => {
    const model = generateVitsModel({ dir: join(root, 'x-low'), shape: 'piper-x-low', seed: 3 });
    const tts = await load(model);
    expect(tts.sampleRate).toBe(16000);
    const audio = (await tts.generateAsync({ text: 'A small voice.', sid: 0, speed: 1 })).samples;
    expect(audio.length % VITS_HOP).toBe(0);
    expect(audio.length).toBeGreaterThan(0);
    expect(rms(audio)).toBeGreaterThan(0.01);
  });

  it('piper-medium: a one-speaker 22.05 kHz voice of Piper medium dimensions', async () => {
    const model = generateVitsModel({ dir: join(root, 'medium'), shape: 'piper-medium', seed: 2 });
    expect(model.speakers).toBe(1);
    // Piper medium voices are ~63 MB (15-20 M parameters, with a flow and duration predictor left out here).
    expect(model.params).toBeGreaterThan(5e6);
    const tts = await load(model);
    expect(tts.numSpeakers).toBe(1);
    expect(tts.sampleRate).toBe(22050);
    const audio = (await tts.generateAsync({ text: 'Short.', sid: 0, speed: 1 })).samples;
    expect(audio.length).toBeGreaterThan(0);
    expect(audio.every((v) => Number.isFinite(v))).toBe(true);
    expect(rms(audio)).toBeGreaterThan(0.01);
  });
});
