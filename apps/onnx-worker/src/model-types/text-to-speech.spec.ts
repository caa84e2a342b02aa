/**
 * Which voices need espeak-ng data: sherpa-onnx exits the process when a phoneme voice has none,
 * so the worker refuses to load it instead.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { voiceNeedsEspeak } from './text-to-speech.model-type';

describe('voiceNeedsEspeak', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'tts-espeak-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function tokens(name: string, symbols: string[]): string {
    const path = join(dir, name);
    writeFileSync(path, symbols.map((s, i) => `${s} ${i}`).join('\n') + '\n');
    return path;
  }

  it('a character table does not; a Piper IPA table does, unless a lexicon is given', () => {
    const chars = tokens('chars.txt', ['_', ' ', 'a', 'b', 'c', '.', 'é']);
    const ipa = tokens('ipa.txt', ['_', '^', '$', ' ', 'a', 'ə', 'ɪ', 'ˈ', 'ː']);
    expect(voiceNeedsEspeak('vits', chars, false)).toBe(false);
    expect(voiceNeedsEspeak('vits', ipa, false)).toBe(true);
    expect(voiceNeedsEspeak('vits', ipa, true)).toBe(false);
    expect(voiceNeedsEspeak('matcha', ipa, false)).toBe(true);
  });

  it('Kokoro and Kitten always do', () => {
    const chars = tokens('k.txt', ['a', 'b']);
    expect(voiceNeedsEspeak('kokoro', chars, true)).toBe(true);
    expect(voiceNeedsEspeak('kitten', chars, false)).toBe(true);
  });
});
