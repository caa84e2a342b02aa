import { execFileSync } from 'node:child_process';
import { FFMPEG_SINE_AMPLITUDE, ffmpegTone, tone, wavFile, type WavEncoding } from '../../../test/support/audio-samples';
import { decodeAudio } from './audio-decoder';
import { fileRejection, toneOf } from './decode-checks.testing';
import { parseWav } from './wav-decoder';


const ENCODINGS: WavEncoding[] = ['pcm8', 'pcm16', 'pcm24', 'pcm32', 'float32', 'float64'];
/** Quantisation noise allowed around the tone: 8-bit is ~-43 dB below a 0.5 tone, the rest far less. */
const PURITY: Record<WavEncoding, number> = { pcm8: 0.99, pcm16: 0.999, pcm24: 0.999, pcm32: 0.999, float32: 0.999, float64: 0.999 };

describe('WAV decoding in-process', () => {
  describe.each(ENCODINGS)('%s', (encoding) => {
    it.each([
      [8000, 1],
      [44100, 1],
      [48000, 1],
      [8000, 2],
      [44100, 2],
      [48000, 2],
    ])('at %i Hz with %i channel(s): 16 kHz mono, its duration, the 440 Hz tone intact', async (rate, channels) => {
      // Stereo carries the tone on the left and silence on the right: the downmix halves it.
      const left = tone(440, 0.5, rate, 0.5);
      const chans = channels === 1 ? [left] : [left, new Float32Array(left.length)];
      const d = await decodeAudio(wavFile(chans, rate, { encoding }), { ffmpeg: false });
      expect(d).toMatchObject({ sampleRate: 16000, sourceFormat: 'wav', decoder: 'wav' });
      expect(d.durationS).toBeCloseTo(0.5, 4);
      expect(d.samples.length).toBe(8000);
      const { amplitude, purity } = toneOf(d, 800);
      expect(amplitude).toBeCloseTo(channels === 1 ? 0.5 : 0.25, 2);
      expect(purity).toBeGreaterThan(PURITY[encoding]);
    });
  });

  it('reads WAVE_FORMAT_EXTENSIBLE integer and float files', async () => {
    for (const encoding of ['pcm16', 'pcm24', 'float32'] as const) {
      const d = await decodeAudio(wavFile([tone(440, 0.5, 48000, 0.5)], 48000, { encoding, extensible: true }), { ffmpeg: false });
      expect(toneOf(d, 800).amplitude).toBeCloseTo(0.5, 2);
    }
  });

  it('finds fmt and data among other chunks: LIST before fmt, an odd-sized chunk with its pad byte, chunks after data', async () => {
    const bytes = wavFile([tone(440, 0.5, 44100, 0.5)], 44100, {
      encoding: 'pcm16',
      before: [{ id: 'LIST', body: Buffer.from('INFOISFT\x05\x00\x00\x00test\x00', 'latin1') }],
      between: [{ id: 'junk', body: Buffer.from([1, 2, 3]) }, { id: 'fact', body: Buffer.alloc(4) }],
      after: [{ id: 'id3 ', body: Buffer.alloc(33, 0x55) }],
    });
    const d = await decodeAudio(bytes, { ffmpeg: false });
    expect(d.durationS).toBeCloseTo(0.5, 4);
    expect(toneOf(d, 800).purity).toBeGreaterThan(0.999);
  });

  it.each([0, 0xffffffff])('reads a streamed header (data size %i) to the end of the file', async (dataSize) => {
    const d = await decodeAudio(wavFile([tone(440, 0.5, 16000, 0.5)], 16000, { encoding: 'pcm16', dataSize }), { ffmpeg: false });
    expect(d.samples.length).toBe(8000);
    expect(toneOf(d, 800).amplitude).toBeCloseTo(0.5, 2);
  });

  it('keeps the whole frames of a file cut short', async () => {
    const full = wavFile([tone(440, 0.5, 16000, 0.5), tone(440, 0.5, 16000, 0.5)], 16000, { encoding: 'pcm16' });
    // Cut through the middle of a frame: the partial frame is dropped.
    const cut = full.subarray(0, full.length - 4001);
    const d = await decodeAudio(cut, { ffmpeg: false });
    expect(d.samples.length).toBe(8000 - 1001);
  });

  it.each([
    ['u8', ['-c:a', 'pcm_u8'], 1],
    ['s16', ['-c:a', 'pcm_s16le'], 1],
    ['s24', ['-c:a', 'pcm_s24le'], 2],
    ['s32', ['-c:a', 'pcm_s32le'], 2],
    ['f32', ['-c:a', 'pcm_f32le'], 2],
    ['f64', ['-c:a', 'pcm_f64le'], 1],
    ['alaw', ['-c:a', 'pcm_alaw'], 1],
    ['mulaw', ['-c:a', 'pcm_mulaw'], 1],
    ['5.1', ['-c:a', 'pcm_s16le'], 6],
    ['rf64', ['-c:a', 'pcm_s16le', '-rf64', 'always'], 2],
  ])('decodes the %s WAV ffmpeg writes', async (name, args, channels) => {
    const bytes = ffmpegTone(`${name}.wav`, { seconds: 1, rate: 44100, channels }, args);
    const d = await decodeAudio(bytes, { ffmpeg: false });
    expect(d.decoder).toBe('wav');
    expect(d.durationS).toBeCloseTo(1, 3);
    const { amplitude, purity } = toneOf(d, 800);
    expect(amplitude).toBeCloseTo(FFMPEG_SINE_AMPLITUDE, 2);
    // The companded and 8-bit formats carry audible quantisation noise; the rest next to none.
    expect(purity).toBeGreaterThan(name === 'u8' || name.endsWith('law') ? 0.95 : 0.999);
  });

  it('decodes the WAV ffmpeg streams to a pipe (sizes 0xFFFFFFFF, EXTENSIBLE 24-bit, a LIST chunk before data)', async () => {
    const source = 'sine=frequency=440:sample_rate=48000:duration=1';
    const bytes = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', source, '-c:a', 'pcm_s24le', '-f', 'wav', 'pipe:1'], {
      maxBuffer: 1 << 24,
    });
    expect(bytes.readUInt32LE(4)).toBe(0xffffffff);
    const parsed = parseWav(bytes);
    expect(parsed).toMatchObject({ kind: 'wav', info: { formatTag: 1, bitsPerSample: 24, frames: 48000 } });
    const d = await decodeAudio(bytes, { ffmpeg: false });
    expect(d.durationS).toBe(1);
    expect(toneOf(d, 800).amplitude).toBeCloseTo(FFMPEG_SINE_AMPLITUDE, 3);
  });

  it('refuses broken headers with a 400 on file', async () => {
    const good = wavFile([tone(440, 0.1, 16000)], 16000, { encoding: 'pcm16' });
    const noData = good.subarray(0, 12 + 8 + 16);
    expect((await fileRejection(decodeAudio(noData))).message).toMatch(/no data chunk/);
    const noFmt = Buffer.concat([good.subarray(0, 12), good.subarray(12 + 8 + 16)]);
    expect((await fileRejection(decodeAudio(noFmt))).message).toMatch(/format chunk/);
    const zeroChannels = Buffer.from(good);
    zeroChannels.writeUInt16LE(0, 22);
    expect((await fileRejection(decodeAudio(zeroChannels))).message).toMatch(/zero channels/);
    const zeroRate = Buffer.from(good);
    zeroRate.writeUInt32LE(0, 24);
    expect((await fileRejection(decodeAudio(zeroRate))).message).toMatch(/sample rate/);
    const float12 = Buffer.from(good);
    float12.writeUInt16LE(3, 20);
    float12.writeUInt16LE(12, 34);
    expect((await fileRejection(decodeAudio(float12))).message).toMatch(/12-bit/);
    const empty = wavFile([new Float32Array(0)], 16000, { encoding: 'pcm16' });
    expect((await fileRejection(decodeAudio(empty))).message).toMatch(/no audio samples/);
    expect((await fileRejection(decodeAudio(Buffer.from('RIFF\x04\x00\x00\x00WAVE', 'latin1')))).code).toBe('invalid_audio');
  });

  it('hands codecs it does not read to ffmpeg, and says ffmpeg is needed when there is none', async () => {
    const adpcm = ffmpegTone('adpcm.wav', { seconds: 1, rate: 22050 }, ['-c:a', 'adpcm_ms']);
    expect(parseWav(adpcm)).toEqual({ kind: 'foreign', reason: 'WAVE format 0x0002' });
    const d = await decodeAudio(adpcm);
    expect(d.decoder).toBe('ffmpeg');
    expect(d.durationS).toBeCloseTo(1, 1);
    expect(toneOf(d, 800).amplitude).toBeCloseTo(FFMPEG_SINE_AMPLITUDE, 2);
    for (const options of [{ ffmpeg: false }, { ffmpegPath: '/nonexistent/ffmpeg' }]) {
      const r = await fileRejection(decodeAudio(adpcm, options));
      expect(r.code).toBe('unsupported_audio_format');
      expect(r.message).toMatch(/cannot decode WAV \(WAVE format 0x0002\) audio: ffmpeg is not installed/);
    }
  });

  it('checks the duration limit from the header, before decoding', async () => {
    const bytes = wavFile([tone(440, 2, 8000)], 8000, { encoding: 'pcm16' });
    const r = await fileRejection(decodeAudio(bytes, { maxDurationS: 1.5 }));
    expect(r.code).toBe('audio_too_long');
    expect((await decodeAudio(bytes, { maxDurationS: 2 })).durationS).toBe(2);
  });

  it('turns NaN and infinite float samples into silence', async () => {
    const x = tone(440, 0.5, 16000, 0.5);
    x[100] = NaN;
    x[200] = Infinity;
    const d = await decodeAudio(wavFile([x], 16000, { encoding: 'float32' }));
    expect(d.samples.every(Number.isFinite)).toBe(true);
    expect(d.samples[100]).toBe(0);
  });
});
