import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FFMPEG_SINE_AMPLITUDE, ffmpegConvert, ffmpegTone, rms } from '../../../test/support/audio-samples';
import { decodeAudio } from './audio-decoder';
import { fileRejection, toneOf } from './decode-checks.testing';
import { describeFfmpeg, mp4NeedsSeek, probeFfmpeg } from './ffmpeg-decoder';


/** Whether a process still exists (a reaped child is gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Up to 10 s: on a loaded 2-core CI machine a killed ffmpeg took longer than 2 s to be reaped.
async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 500 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

describe('decodeAudio through ffmpeg', () => {
  const stereo44k = { seconds: 2, rate: 44100, channels: 2 };

  it.each([
    ['mp3', 'a.mp3', stereo44k, [], 'mp3'],
    ['mpga (mp3 without an ID3 tag)', 'a.mpga', { seconds: 2, rate: 22050 }, ['-f', 'mp3', '-write_xing', '0', '-id3v2_version', '0'], 'mp3'],
    ['flac', 'a.flac', { seconds: 2, rate: 48000, channels: 2 }, [], 'flac'],
    ['ogg/vorbis', 'a.ogg', stereo44k, ['-c:a', 'libvorbis'], 'ogg'],
    ['ogg/opus', 'a.opus', { seconds: 2, rate: 48000 }, ['-c:a', 'libopus', '-f', 'ogg'], 'ogg'],
    ['webm/opus', 'a.webm', { seconds: 2, rate: 48000, channels: 2 }, [], 'webm'],
    ['aac in ADTS', 'a.aac', stereo44k, ['-c:a', 'aac', '-f', 'adts'], 'aac'],
    ['m4a with faststart (moov first)', 'a.m4a', stereo44k, ['-movflags', '+faststart'], 'mp4'],
    ['mpeg program stream (mp2)', 'a.mpeg', { seconds: 2, rate: 44100 }, ['-c:a', 'mp2', '-f', 'mpeg'], 'mpeg'],
    ['mpeg transport stream (mp2)', 'a.ts', { seconds: 2, rate: 48000 }, ['-c:a', 'mp2', '-f', 'mpegts'], 'mpegts'],
    ['aiff', 'a.aiff', { seconds: 2, rate: 44100 }, [], 'aiff'],
  ] as const)('%s: 16 kHz mono, the duration, the 440 Hz tone', async (_name, file, spec, args, format) => {
    const bytes = ffmpegTone(file, spec, [...args]);
    const d = await decodeAudio(bytes);
    expect(d).toMatchObject({ sampleRate: 16000, sourceFormat: format, decoder: 'ffmpeg' });
    // Lossy codecs pad a frame or so at the ends.
    expect(Math.abs(d.durationS - spec.seconds)).toBeLessThan(0.1);
    expect(d.samples.length).toBe(Math.round(d.durationS * 16000));
    const { amplitude, purity } = toneOf(d, 1600);
    expect(Math.abs(amplitude - FFMPEG_SINE_AMPLITUDE)).toBeLessThan(0.01);
    expect(purity).toBeGreaterThan(0.97);
  });

  it('reads an m4a made by a plain `ffmpeg -i x.wav out.m4a` (moov after the samples), which a pipe cannot', async () => {
    const wav = ffmpegTone('x.wav', { seconds: 6, rate: 44100, channels: 2 });
    const m4a = ffmpegConvert(wav, 'x.wav', 'out.m4a');
    expect(mp4NeedsSeek(m4a)).toBe(true);
    // The problem being solved: ffmpeg reading this from a pipe gets nothing.
    const piped = (() => {
      try {
        return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'mov', '-i', 'pipe:0', '-f', 'f32le', '-ac', '1', 'pipe:1'], {
          input: m4a,
          stdio: ['pipe', 'pipe', 'ignore'],
          maxBuffer: 1 << 26,
        }).length;
      } catch {
        return 0;
      }
    })();
    expect(piped).toBe(0);
    const d = await decodeAudio(m4a);
    expect(d.sourceFormat).toBe('mp4');
    expect(Math.abs(d.durationS - 6)).toBeLessThan(0.05);
    const { amplitude, purity } = toneOf(d, 1600);
    expect(Math.abs(amplitude - FFMPEG_SINE_AMPLITUDE)).toBeLessThan(0.01);
    expect(purity).toBeGreaterThan(0.97);
  });

  it('gives the same samples for the same audio as WAV (in-process) and FLAC (ffmpeg)', async () => {
    // Left a tone, right silent: both paths downmix to the mean, half the tone.
    const wav = ffmpegTone('lr.wav', { seconds: 1, rate: 44100 }, ['-af', 'pan=stereo|c0=c0|c1=0*c0']);
    const fromWav = await decodeAudio(wav);
    const fromFlac = await decodeAudio(ffmpegConvert(wav, 'lr.wav', 'lr.flac'));
    expect([fromWav.decoder, fromFlac.decoder]).toEqual(['wav', 'ffmpeg']);
    expect(fromFlac.samples.length).toBe(fromWav.samples.length);
    expect(toneOf(fromWav, 1600).amplitude).toBeCloseTo(FFMPEG_SINE_AMPLITUDE / 2, 3);
    expect(toneOf(fromFlac, 1600).amplitude).toBeCloseTo(FFMPEG_SINE_AMPLITUDE / 2, 3);
    const a = fromWav.samples.subarray(1600, 14400);
    const b = fromFlac.samples.subarray(1600, 14400);
    // Two different resamplers, both linear phase: the same waveform, sample for sample, within -60 dB.
    expect(rms(a.map((v, i) => v - b[i]))).toBeLessThan(rms(a) * 1e-3);
  });

  it('takes the audio track of a video, and refuses a video without one', async () => {
    const video = ['-f', 'lavfi', '-i', 'testsrc=size=32x32:rate=5:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast'];
    const withAudio = ffmpegTone('av.mp4', { seconds: 2, rate: 44100 }, [...video, '-map', '1:v', '-map', '0:a', '-shortest']);
    const d = await decodeAudio(withAudio);
    expect(Math.abs(d.durationS - 2)).toBeLessThan(0.1);
    expect(Math.abs(toneOf(d, 1600).amplitude - FFMPEG_SINE_AMPLITUDE)).toBeLessThan(0.01);
    const silentFilm = ffmpegTone('v.mp4', { seconds: 2, rate: 44100 }, [...video, '-map', '1:v']);
    const r = await fileRejection(decodeAudio(silentFilm));
    expect(r).toMatchObject({ code: 'invalid_audio', message: 'The file has no audio stream.' });
  });

  it('refuses what is not audio, empty or undecodable, each a 400 on file', async () => {
    expect(await fileRejection(decodeAudio(Buffer.alloc(0)))).toMatchObject({ code: 'invalid_audio', message: 'The audio file is empty.' });
    const text = await fileRejection(decodeAudio(Buffer.from('hello, this is not audio at all\n')));
    expect(text.code).toBe('unsupported_audio_format');
    expect(text.message).toMatch(/looks like text.*'mp3'/);
    const png = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(100)]);
    expect((await fileRejection(decodeAudio(png))).message).toMatch(/PNG image/);
    const noise = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) % 251));
    expect((await fileRejection(decodeAudio(noise))).code).toBe('unsupported_audio_format');
    // The right magic, then garbage: ffmpeg gets it and fails, and says so.
    const garbage = Buffer.from(Array.from({ length: 20000 }, (_, i) => (i * 131 + 7) % 256));
    const heads: [string, Buffer][] = [
      ['mp3', Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1')],
      ['flac', Buffer.from('fLaC', 'latin1')],
      ['ogg', Buffer.from('OggS', 'latin1')],
      ['mp4', Buffer.from('\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom', 'latin1')],
      ['webm', Buffer.from([0x1a, 0x45, 0xdf, 0xa3])],
    ];
    for (const [format, head] of heads) {
      const r = await fileRejection(decodeAudio(Buffer.concat([head, garbage])));
      expect({ format, code: r.code }).toEqual({ format, code: 'invalid_audio' });
    }
  });

  it('keeps what a truncated mp3 holds', async () => {
    const mp3 = ffmpegTone('a.mp3', { seconds: 4, rate: 44100 });
    const d = await decodeAudio(mp3.subarray(0, Math.floor(mp3.length / 2)));
    expect(Math.abs(d.durationS - 2)).toBeLessThan(0.2);
  });

  it('stops ffmpeg at the duration limit, however small the file', async () => {
    // 60 s of audio in about 60 kB: the limit, not the upload size, bounds the decoded samples.
    const mp3 = ffmpegTone('long.mp3', { seconds: 60, rate: 8000 }, ['-b:a', '8k']);
    expect(mp3.length).toBeLessThan(100_000);
    const r = await fileRejection(decodeAudio(mp3, { maxDurationS: 10 }));
    expect(r.code).toBe('audio_too_long');
    expect(r.message).toMatch(/10 s/);
  });

  describe('the ffmpeg process', () => {
    let dir: string;
    let fake: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'switchyard-fake-ffmpeg-'));
      fake = join(dir, 'ffmpeg');
      // A stand-in that never answers, so that only our timeout or abort can end it.
      writeFileSync(fake, `#!/bin/sh\necho $$ > "${dir}/pid"\nexec sleep 30\n`);
      chmodSync(fake, 0o755);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const mp3 = () => ffmpegTone('a.mp3', { seconds: 1, rate: 16000 });
    const pid = async () => {
      for (let i = 0; i < 100; i++) {
        try {
          return Number(readFileSync(join(dir, 'pid'), 'utf8'));
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      throw new Error('the stand-in never started');
    };

    it('is killed on timeout, and the decode is a 400 that says so', async () => {
      rmSync(join(dir, 'pid'), { force: true });
      const started = Date.now();
      const r = await fileRejection(decodeAudio(mp3(), { ffmpegPath: fake, timeoutMs: 300 }));
      expect(r.message).toMatch(/took longer than/);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await waitGone(await pid())).toBe(true);
    });

    it('is killed on abort, and the decode rejects with the abort reason', async () => {
      rmSync(join(dir, 'pid'), { force: true });
      const ac = new AbortController();
      const run = decodeAudio(mp3(), { ffmpegPath: fake, signal: ac.signal });
      const p = await pid();
      expect(alive(p)).toBe(true);
      const reason = new Error('client went away');
      ac.abort(reason);
      await expect(run).rejects.toBe(reason);
      expect(await waitGone(p)).toBe(true);
    });

    it('does not start for a signal already aborted', async () => {
      const ac = new AbortController();
      ac.abort(new Error('too late'));
      await expect(decodeAudio(mp3(), { signal: ac.signal })).rejects.toThrow('too late');
    });
  });

  it('without ffmpeg: a probe that says so, a 400 for what needs it, WAV still decoded', async () => {
    const missing = await probeFfmpeg('/nonexistent/ffmpeg');
    expect(missing).toMatchObject({ available: false, error: 'ENOENT' });
    expect(describeFfmpeg(missing)).toMatch(/^ffmpeg not usable at '\/nonexistent\/ffmpeg' \(ENOENT\): only WAV/);
    const found = await probeFfmpeg();
    expect(found).toMatchObject({ available: true, version: expect.stringMatching(/^n?\d/) });
    expect(describeFfmpeg(found)).toMatch(/^ffmpeg \S+ at 'ffmpeg': every audio format/);
    const mp3 = ffmpegTone('a.mp3', { seconds: 1, rate: 16000 });
    for (const options of [{ ffmpegPath: '/nonexistent/ffmpeg' }, { ffmpeg: false }]) {
      const r = await fileRejection(decodeAudio(mp3, options));
      expect(r.code).toBe('unsupported_audio_format');
      expect(r.message).toMatch(/cannot decode mp3 audio: ffmpeg is not installed/);
    }
    const wav = ffmpegTone('a.wav', { seconds: 1, rate: 16000 });
    expect((await decodeAudio(wav, { ffmpegPath: '/nonexistent/ffmpeg' })).decoder).toBe('wav');
  });
});
