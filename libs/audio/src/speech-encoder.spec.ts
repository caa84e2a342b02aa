/**
 * The speech encoders: each format's container is what its header says, decodes back (ffmpeg) to
 * the pushed duration at 24 kHz with the tone still in it, and ffmpeg's formats stream their bytes
 * before the end; the streaming resampler equals the one-shot one.
 */
import { execFileSync } from 'node:child_process';
import type { SpeechFormat } from '@switchyard/contracts';
import { resample } from './resampler';
import { createSpeechEncoder, FfmpegMissingError, FfmpegPool, ffmpegHasMp3, floatToS16, streamingWavHeader } from './speech-encoder';
import { speechContentType, speechFormatNeedsFfmpeg } from './speech-format';
import { StreamingResampler } from './streaming-resampler';

jest.setTimeout(30_000);

const RATE = 22_050;

function hasFfmpeg(): boolean {
  try {
    execFileSync('ffmpeg', ['-hide_banner', '-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const ffmpegPresent = hasFfmpeg();
if (!ffmpegPresent) console.warn('SKIPPED encoder tests that need ffmpeg on PATH (apt-get install ffmpeg)');
const withFfmpeg = ffmpegPresent ? it : it.skip;

function tone(seconds: number, freq = 440, rate = RATE): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  for (let i = 0; i < out.length; i++) out[i] = 0.5 * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

/** Back to 24 kHz mono s16le with ffmpeg. */
function decode(bytes: Buffer, format: SpeechFormat): Int16Array {
  const input = format === 'pcm' ? ['-f', 's16le', '-ar', '24000', '-ac', '1'] : [];
  const out = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...input, '-i', 'pipe:0', '-f', 's16le', '-ar', '24000', '-ac', '1', 'pipe:1'], { input: bytes });
  return new Int16Array(out.buffer, out.byteOffset, out.length / 2);
}

/** Zero crossings per second / 2 over the middle half: the tone's frequency. */
function frequency(s: Int16Array, rate = 24_000): number {
  const from = Math.floor(s.length / 4);
  const to = Math.floor((3 * s.length) / 4);
  let crossings = 0;
  for (let i = from + 1; i < to; i++) if (s[i - 1] < 0 !== s[i] < 0) crossings++;
  return crossings / 2 / ((to - from) / rate);
}

async function encode(format: SpeechFormat, chunks: Float32Array[], mp3ViaFfmpeg = false): Promise<{ bytes: Buffer; beforeEnd: number }> {
  const parts: Buffer[] = [];
  const encoder = await createSpeechEncoder({ format, inputRate: RATE, onData: (b) => parts.push(b), mp3ViaFfmpeg });
  for (const c of chunks) await encoder.push(c);
  await new Promise((r) => setTimeout(r, 300));
  const beforeEnd = parts.reduce((n, b) => n + b.length, 0);
  await encoder.end();
  return { bytes: Buffer.concat(parts), beforeEnd };
}

const HEADERS: Record<SpeechFormat, (b: Buffer) => boolean> = {
  mp3: (b) => b.subarray(0, 3).toString('latin1') === 'ID3' || (b[0] === 0xff && (b[1] & 0xe0) === 0xe0),
  opus: (b) => b.subarray(0, 4).toString('latin1') === 'OggS' && b.subarray(28, 36).toString('latin1') === 'OpusHead',
  aac: (b) => b[0] === 0xff && (b[1] & 0xf0) === 0xf0,
  flac: (b) => b.subarray(0, 4).toString('latin1') === 'fLaC',
  wav: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WAVE',
  pcm: () => true,
};

describe('createSpeechEncoder', () => {
  const chunks = [tone(0.5), tone(0.5).slice(0, 11025), tone(0.5)];
  const seconds = (0.5 * RATE * 2 + 11025) / RATE;

  it.each(['pcm', 'wav'] as const)('%s: exactly the resampled samples, 24 kHz 16-bit', async (format) => {
    const { bytes } = await encode(format, chunks);
    expect(HEADERS[format](bytes)).toBe(true);
    const body = format === 'wav' ? bytes.subarray(44) : bytes;
    expect(body.length / 2).toBe(Math.round(seconds * 24_000));
    if (format === 'wav') expect(bytes.subarray(0, 44).equals(streamingWavHeader())).toBe(true);
  });

  it('mp3 needs no ffmpeg and is MPEG frames', async () => {
    expect(speechFormatNeedsFfmpeg('mp3')).toBe(false);
    const { bytes } = await encode('mp3', chunks);
    expect(HEADERS.mp3(bytes)).toBe(true);
    expect(speechContentType('mp3')).toBe('audio/mpeg');
  });

  withFfmpeg.each(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const)('%s decodes back to the duration with the tone in it', async (format) => {
    const { bytes } = await encode(format, chunks);
    expect(HEADERS[format](bytes)).toBe(true);
    const decoded = decode(bytes, format);
    const tolerance = format === 'flac' || format === 'wav' || format === 'pcm' ? 1 / 24_000 : 0.08;
    expect(Math.abs(decoded.length / 24_000 - seconds)).toBeLessThanOrEqual(tolerance + 1e-9);
    expect(Math.abs(frequency(decoded) - 440)).toBeLessThan(15);
  });

  withFfmpeg('mp3 through ffmpeg\'s LAME: MPEG frames without an info frame, decoding to the duration with the tone in it, bytes before the end', async () => {
    expect(await ffmpegHasMp3()).toBe(true);
    const { bytes, beforeEnd } = await encode('mp3', [...chunks, tone(1)], true);
    expect(HEADERS.mp3(bytes)).toBe(true);
    expect(bytes.includes(Buffer.from('Xing'))).toBe(false);
    expect(bytes.includes(Buffer.from('Info'))).toBe(false);
    const decoded = decode(bytes, 'mp3');
    expect(Math.abs(decoded.length / 24_000 - (seconds + 1))).toBeLessThanOrEqual(0.08);
    expect(Math.abs(frequency(decoded) - 440)).toBeLessThan(15);
    expect(beforeEnd).toBeGreaterThan(0);
  });

  it('ffmpegHasMp3 is false for a program that is not ffmpeg', async () => {
    expect(await ffmpegHasMp3('/nonexistent/ffmpeg')).toBe(false);
  });

  it('floatToS16 clamps and rounds: -1 is -32768, 1 is 32767', () => {
    const b = floatToS16(Float32Array.of(-2, -1, -0.5, 0, 0.5, 1, 2));
    expect(Array.from(new Int16Array(b.buffer, b.byteOffset, b.length / 2))).toEqual([-32768, -32768, -16384, 0, 16384, 32767, 32767]);
  });

  withFfmpeg.each(['opus', 'aac', 'flac'] as const)('%s sends bytes before the end', async (format) => {
    const { bytes, beforeEnd } = await encode(format, [tone(1), tone(1), tone(1)]);
    expect(beforeEnd).toBeGreaterThan(0);
    expect(beforeEnd).toBeLessThan(bytes.length + 1);
  });

  withFfmpeg.each(['opus', 'aac', 'flac'] as const)('%s: the first half second of audio is out within a second, the stream still open', async (format) => {
    let bytes = 0;
    const encoder = await createSpeechEncoder({ format, inputRate: RATE, onData: (b) => (bytes += b.length) });
    try {
      await encoder.push(tone(0.5));
      const t0 = Date.now();
      while (bytes === 0 && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 20));
      expect(bytes).toBeGreaterThan(0);
    } finally {
      encoder.destroy();
    }
  });

  it('an ffmpeg that dies mid-stream fails the push instead of hanging it', async () => {
    // `true` starts, reads nothing and exits: the pipe fills and breaks.
    const encoder = await createSpeechEncoder({ format: 'flac', inputRate: RATE, onData: () => undefined, ffmpegPath: 'true' });
    await new Promise((r) => setTimeout(r, 100));
    await expect(
      (async () => {
        for (let i = 0; i < 20; i++) await encoder.push(tone(2));
      })(),
    ).rejects.toThrow(/ffmpeg stopped reading/);
    encoder.destroy();
  });

  withFfmpeg('an FfmpegPool hands out a started ffmpeg, keeps a spare, and replaces one that died', async () => {
    const pool = new FfmpegPool();
    try {
      const once = async (): Promise<Int16Array> => {
        const parts: Buffer[] = [];
        const encoder = await createSpeechEncoder({ format: 'flac', inputRate: RATE, onData: (b) => parts.push(b), ffmpegPool: pool });
        await encoder.push(tone(0.5));
        await encoder.end();
        return decode(Buffer.concat(parts), 'flac');
      };
      expect((await once()).length).toBe(12_000);
      // The spare is started and waiting; kill it: the next request still gets a working ffmpeg.
      const spare = await (pool as unknown as { spares: Map<string, Promise<{ kill(s: string): void; exitCode: number | null } | undefined>> }).spares.get('flac');
      expect(spare?.exitCode).toBeNull();
      spare!.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
      expect((await once()).length).toBe(12_000);
      expect((await once()).length).toBe(12_000);
      // Four at once: each gets its own process.
      for (const samples of await Promise.all([once(), once(), once(), once()])) expect(samples.length).toBe(12_000);
    } finally {
      pool.close();
    }
  });

  it('a missing ffmpeg is a FfmpegMissingError', async () => {
    await expect(createSpeechEncoder({ format: 'opus', inputRate: RATE, onData: () => undefined, ffmpegPath: '/nonexistent/ffmpeg' })).rejects.toBeInstanceOf(FfmpegMissingError);
  });
});

describe('StreamingResampler', () => {
  it.each([
    [22_050, 24_000],
    [16_000, 24_000],
    [44_100, 24_000],
  ])('%i -> %i in random chunks equals the one-shot resample', (from, to) => {
    const input = new Float32Array(from);
    for (let i = 0; i < input.length; i++) input[i] = Math.sin(i / 7) * 0.5 + Math.sin(i / 3.1) * 0.2;
    const whole = resample(input, from, to);
    const r = new StreamingResampler(from, to);
    const parts: Float32Array[] = [];
    let at = 0;
    let size = 1;
    while (at < input.length) {
      size = (size * 7919 + 13) % 4000 || 1;
      parts.push(r.push(input.subarray(at, at + size)));
      at += size;
    }
    parts.push(r.flush());
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    expect(out.length).toBe(whole.length);
    let maxDiff = 0;
    for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - whole[i]));
    expect(maxDiff).toBeLessThan(1e-5);
  });
});
