/**
 * Audio for tests: tones, WAV files written byte by byte (every sample encoding, odd chunk layouts),
 * files in every other format encoded by the real ffmpeg, and a Goertzel filter to check that a
 * tone came through a decoder at its frequency. Shared by the audio lib's specs and the e2e tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A sine of `freq` Hz for `seconds` at `rate`, amplitude `amplitude`. */
export function tone(freq: number, seconds: number, rate: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

/**
 * The amplitude of the `freq` Hz component of `samples` (a full-scale sine of amplitude A gives ≈ A),
 * by the Goertzel recurrence over the whole signal, with the start trimmed by `skip` samples.
 */
export function toneAmplitude(samples: Float32Array, rate: number, freq: number, skip = 0): number {
  const x = samples.subarray(skip);
  const w = (2 * Math.PI * freq) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s0 = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const re = s1 - s2 * Math.cos(w);
  const im = s2 * Math.sin(w);
  return (2 * Math.hypot(re, im)) / x.length;
}

/** Root mean square of `samples`. */
export function rms(samples: Float32Array): number {
  let sum = 0;
  for (const v of samples) sum += v * v;
  return Math.sqrt(sum / Math.max(1, samples.length));
}

export type WavEncoding = 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'float64';

export interface WavWriteOptions {
  encoding: WavEncoding;
  /** Write WAVE_FORMAT_EXTENSIBLE (a 40-byte fmt chunk with the sub-format GUID). */
  extensible?: boolean;
  /** Extra chunks (id + body) written before fmt, between fmt and data, and after data. */
  before?: { id: string; body: Buffer }[];
  between?: { id: string; body: Buffer }[];
  after?: { id: string; body: Buffer }[];
  /** The data chunk's declared size: the real one unless given (0 or 0xFFFFFFFF for a streamed file). */
  dataSize?: number;
}

const BYTES: Record<WavEncoding, number> = { pcm8: 1, pcm16: 2, pcm24: 3, pcm32: 4, float32: 4, float64: 8 };
const TAG: Record<WavEncoding, number> = { pcm8: 1, pcm16: 1, pcm24: 1, pcm32: 1, float32: 3, float64: 3 };

function chunk(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  // RIFF pads odd chunks to an even length; a reader must skip the pad byte.
  return Buffer.concat([head, body, body.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

function writeSample(b: Buffer, at: number, v: number, e: WavEncoding): void {
  const c = Math.max(-1, Math.min(1, v));
  switch (e) {
    case 'pcm8':
      b[at] = Math.max(0, Math.min(255, Math.round(c * 128 + 128)));
      break;
    case 'pcm16':
      b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(c * 32768))), at);
      break;
    case 'pcm24':
      b.writeIntLE(Math.max(-8388608, Math.min(8388607, Math.round(c * 8388608))), at, 3);
      break;
    case 'pcm32':
      b.writeInt32LE(Math.max(-2147483648, Math.min(2147483647, Math.round(c * 2147483648))), at);
      break;
    case 'float32':
      b.writeFloatLE(v, at);
      break;
    case 'float64':
      b.writeDoubleLE(v, at);
      break;
  }
}

/** A WAV file of `channels` (equal lengths) at `rate`, written by hand so every header field is ours. */
export function wavFile(channels: Float32Array[], rate: number, o: WavWriteOptions): Buffer {
  const bytes = BYTES[o.encoding];
  const n = channels[0].length;
  const blockAlign = bytes * channels.length;
  const data = Buffer.alloc(n * blockAlign);
  for (let f = 0; f < n; f++) for (let c = 0; c < channels.length; c++) writeSample(data, f * blockAlign + c * bytes, channels[c][f], o.encoding);
  const fmt = Buffer.alloc(o.extensible ? 40 : 16);
  fmt.writeUInt16LE(o.extensible ? 0xfffe : TAG[o.encoding], 0);
  fmt.writeUInt16LE(channels.length, 2);
  fmt.writeUInt32LE(rate, 4);
  fmt.writeUInt32LE(rate * blockAlign, 8);
  fmt.writeUInt16LE(blockAlign, 12);
  fmt.writeUInt16LE(bytes * 8, 14);
  if (o.extensible) {
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(bytes * 8, 18);
    fmt.writeUInt32LE(channels.length === 2 ? 0x3 : 0, 20);
    // KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: the tag, then 0000-0010-8000-00AA00389B71.
    fmt.writeUInt16LE(TAG[o.encoding], 24);
    Buffer.from('000000001000800000aa00389b71', 'hex').copy(fmt, 26);
  }
  const dataChunk = chunk('data', data);
  if (o.dataSize !== undefined) dataChunk.writeUInt32LE(o.dataSize, 4);
  const body = Buffer.concat([
    ...(o.before ?? []).map((c) => chunk(c.id, c.body)),
    chunk('fmt ', fmt),
    ...(o.between ?? []).map((c) => chunk(c.id, c.body)),
    dataChunk,
    ...(o.after ?? []).map((c) => chunk(c.id, c.body)),
  ]);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(o.dataSize !== undefined && o.dataSize !== n * blockAlign ? 0xffffffff : body.length + 4, 4);
  head.write('WAVE', 8, 'latin1');
  return Buffer.concat([head, body]);
}

/** Runs ffmpeg in a scratch folder and returns the file it wrote there as `output`. */
function ffmpegWrite(inputArgs: string[], output: string, args: string[], files: Record<string, Buffer> = {}): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-audio-'));
  try {
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const path = join(dir, output);
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...inputArgs, ...args, path], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ToneSpec {
  freq?: number;
  seconds: number;
  rate: number;
  channels?: number;
}

/** lavfi's sine source: amplitude 1/8, copied at full level onto every channel. */
export const FFMPEG_SINE_AMPLITUDE = 0.125;

/** Copies the mono source onto `n` channels (ffmpeg's own -ac upmix would scale or route it). */
function fanOut(n: number): string[] {
  if (n === 1) return [];
  const layout = n === 2 ? 'stereo' : n === 6 ? '5.1' : `${n}c`;
  return ['-af', `pan=${layout}|${Array.from({ length: n }, (_, i) => `c${i}=c0`).join('|')}`];
}

/**
 * A tone encoded by ffmpeg as `output` (its extension picks the muxer unless `args` has `-f`),
 * `args` going between the source and the output (codec, bitrate, muxer flags).
 */
export function ffmpegTone(output: string, t: ToneSpec, args: string[] = []): Buffer {
  const source = `sine=frequency=${t.freq ?? 440}:sample_rate=${t.rate}:duration=${t.seconds}`;
  return ffmpegWrite(['-f', 'lavfi', '-i', source, ...fanOut(t.channels ?? 1)], output, args);
}

/** `ffmpeg -i <input> [args] <output>`: converts a file as a user would. */
export function ffmpegConvert(input: Buffer, inputName: string, output: string, args: string[] = []): Buffer {
  return ffmpegWrite(['-i', inputName], output, args, { [inputName]: input });
}

/** True when ffmpeg runs on this machine. */
export function hasFfmpeg(): boolean {
  try {
    execFileSync('ffmpeg', ['-hide_banner', '-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
