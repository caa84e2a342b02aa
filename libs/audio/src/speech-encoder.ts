/**
 * Encodes a voice's float samples into OpenAI's speech formats as they come: resampled to 24 kHz
 * (a streaming Kaiser-sinc), then raw s16le (pcm), a WAV header with "unknown length" sizes and the
 * same samples (wav, as ffmpeg writes a WAV to a pipe), or one ffmpeg process per request for opus
 * (Ogg), aac (ADTS), flac and, where ffmpeg has LAME, mp3, its output passed on as it appears.
 * Without ffmpeg, mp3 comes from lamejs in process: the same MPEG layer III frames, but about a
 * tenth of native LAME's speed (docs/benchmarks.md). Each encoder's bytes go to `onData` in order.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { runInThisContext } from 'node:vm';
import type { SpeechFormat } from '@switchyard/contracts';
import { summarizeStderr } from './ffmpeg-decoder';
import { SPEECH_OUTPUT_RATE, speechContentType } from './speech-format';
import { StreamingResampler } from './streaming-resampler';

export interface SpeechEncoderOptions {
  format: SpeechFormat;
  /** The voice's sample rate. */
  inputRate: number;
  onData: (bytes: Buffer) => void;
  ffmpegPath?: string;
  /** mp3 through ffmpeg's libmp3lame instead of lamejs (`ffmpegHasMp3` says whether it can). */
  mp3ViaFfmpeg?: boolean;
  /** Started ffmpeg processes to take instead of spawning one (ffmpeg needs 150-300 ms to start here). */
  ffmpegPool?: FfmpegPool;
}

export interface SpeechEncoder {
  readonly contentType: string;
  /** Encodes more samples (float, -1..1); resolves once they are handed to the encoder. */
  push(samples: Float32Array): Promise<void>;
  /** Flushes the last bytes; resolves when all of them went to `onData`. */
  end(): Promise<void>;
  /** Stops at once (a cancelled request); no more `onData`. */
  destroy(): void;
}

/** ffmpeg could not be started: the formats that need it cannot be served. */
export class FfmpegMissingError extends Error {
  constructor(path: string, cause: string) {
    super(`ffmpeg is not usable at '${path}' (${cause}); opus, aac and flac need it`);
    this.name = 'FfmpegMissingError';
  }
}

/** mp3 at 64 kbit/s: transparent enough for 24 kHz mono speech, a quarter of OpenAI's file sizes' worry. */
const MP3_KBPS = 64;
const OPUS_BITRATE = '32k';
const AAC_BITRATE = '64k';

const LITTLE_ENDIAN = endianness() === 'LE';

/** Float samples to 16-bit little-endian, clamped. */
export function floatToS16(samples: Float32Array): Buffer {
  const n = samples.length;
  if (!LITTLE_ENDIAN) {
    const out = Buffer.alloc(n * 2);
    for (let i = 0; i < n; i++) out.writeInt16LE(s16(samples[i]), i * 2);
    return out;
  }
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = s16(samples[i]);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

function s16(x: number): number {
  const v = x > 1 ? 1 : x < -1 ? -1 : x;
  return Math.round(v < 0 ? v * 32768 : v * 32767);
}

/** Whether this ffmpeg has the LAME mp3 encoder (Debian's does; a minimal build may not). */
export function ffmpegHasMp3(ffmpegPath = 'ffmpeg'): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(ffmpegPath, ['-hide_banner', '-encoders'], { timeout: 5000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) => resolve(!err && /\blibmp3lame\b/.test(stdout)));
  });
}

/** A 16-bit mono WAV header whose RIFF and data sizes say "unknown" (0xFFFFFFFF), for a stream. */
export function streamingWavHeader(rate = SPEECH_OUTPUT_RATE): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(0xffffffff, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(0xffffffff, 40);
  return h;
}

type Mp3EncoderClass = new (channels: number, rate: number, kbps: number) => { encodeBuffer(s: Int16Array): Uint8Array; flush(): Uint8Array };
let lame: Mp3EncoderClass | undefined;

/**
 * lamejs's CommonJS entry is a browser script that only sets a global `lamejs` (it exports
 * nothing), and its ES build needs import(), which jest's CommonJS runtime refuses: the script is
 * run once here as a function that returns that global.
 */
function mp3EncoderClass(): Mp3EncoderClass {
  if (!lame) {
    const file = createRequire(__filename).resolve('@breezystack/lamejs');
    const lib = runInThisContext(`(function () {\n${readFileSync(file, 'utf8')}\nreturn lamejs;\n})()`, { filename: file }) as { Mp3Encoder: Mp3EncoderClass };
    lame = lib.Mp3Encoder;
  }
  return lame;
}

/** Encoders that write in-process: pcm, wav, mp3. */
class InProcessEncoder implements SpeechEncoder {
  private destroyed = false;

  constructor(
    readonly contentType: string,
    private readonly resampler: StreamingResampler,
    private readonly encode: (s16: Buffer) => Buffer,
    private readonly finish: () => Buffer,
    private readonly onData: (bytes: Buffer) => void,
  ) {}

  push(samples: Float32Array): Promise<void> {
    this.write(this.encode(floatToS16(this.resampler.push(samples))));
    return Promise.resolve();
  }

  end(): Promise<void> {
    this.write(this.encode(floatToS16(this.resampler.flush())));
    this.write(this.finish());
    this.destroyed = true;
    return Promise.resolve();
  }

  destroy(): void {
    this.destroyed = true;
  }

  private write(bytes: Buffer): void {
    if (!this.destroyed && bytes.length > 0) this.onData(bytes);
  }
}

const FFMPEG_OUTPUT: Partial<Record<SpeechFormat, string[]>> = {
  // No Xing/LAME info frame: on a pipe ffmpeg cannot go back to fill in its frame count.
  mp3: ['-c:a', 'libmp3lame', '-b:a', `${MP3_KBPS}k`, '-write_xing', '0', '-f', 'mp3'],
  // Small Ogg pages, each flushed: the first audio leaves within ~100 ms of its samples.
  opus: ['-c:a', 'libopus', '-b:a', OPUS_BITRATE, '-application', 'voip', '-page_duration', '100000', '-f', 'ogg'],
  aac: ['-c:a', 'aac', '-b:a', AAC_BITRATE, '-f', 'adts'],
  flac: ['-c:a', 'flac', '-f', 'flac'],
};

/** opus, aac, flac: s16le at 24 kHz into ffmpeg's stdin, the container out of its stdout. */
class FfmpegEncoder implements SpeechEncoder {
  private stderr = '';
  private readonly exited: Promise<number | null>;
  private destroyed = false;
  private closed = false;

  constructor(
    readonly contentType: string,
    private readonly resampler: StreamingResampler,
    private readonly child: ChildProcessWithoutNullStreams,
    onData: (bytes: Buffer) => void,
  ) {
    child.stdout.on('data', (b: Buffer) => {
      if (!this.destroyed) onData(b);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-8192);
    });
    // A closed stdin (ffmpeg died) shows in the exit code; the write error itself says less.
    child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      child.on('close', (code) => {
        this.closed = true;
        resolve(code);
      }),
    );
  }

  async push(samples: Float32Array): Promise<void> {
    await this.write(floatToS16(this.resampler.push(samples)));
  }

  async end(): Promise<void> {
    await this.write(floatToS16(this.resampler.flush()));
    this.child.stdin.end();
    const code = await this.exited;
    if (code !== 0 && !this.destroyed) throw new Error(`ffmpeg failed to encode (exit ${code}): ${summarizeStderr(this.stderr, 'pipe:0')}`);
  }

  destroy(): void {
    this.destroyed = true;
    this.child.kill('SIGKILL');
  }

  /** Waits for stdin to drain, so a slow encoder holds back the synthesis instead of buffering it all. */
  private write(bytes: Buffer): Promise<void> {
    if (bytes.length === 0 || this.destroyed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stopped = (): void => (this.destroyed ? resolve() : reject(new Error(`ffmpeg stopped reading: ${summarizeStderr(this.stderr, 'pipe:0')}`)));
      if (this.closed) return stopped();
      const ok = this.child.stdin.write(bytes, (err) => (err ? stopped() : undefined));
      if (ok) return resolve();
      // A full pipe drains, or ffmpeg died and never will: either settles the write.
      const drained = (): void => {
        this.child.off('close', closed);
        resolve();
      };
      const closed = (): void => {
        this.child.stdin.off('drain', drained);
        stopped();
      };
      this.child.stdin.once('drain', drained);
      this.child.once('close', closed);
    });
  }
}

function startFfmpeg(path: string, format: SpeechFormat): Promise<ChildProcessWithoutNullStreams> {
  // No probing of the raw input: by default ffmpeg reads seconds of it before writing a byte.
  const args = ['-hide_banner', '-loglevel', 'error', '-probesize', '32', '-analyzeduration', '0', '-f', 's16le', '-ar', String(SPEECH_OUTPUT_RATE), '-ac', '1', '-i', 'pipe:0', ...FFMPEG_OUTPUT[format]!, '-flush_packets', '1', 'pipe:1'];
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.once('spawn', () => resolve(child));
    child.once('error', (err: NodeJS.ErrnoException) => reject(new FfmpegMissingError(path, err.code ?? err.message)));
  });
}

/**
 * One started ffmpeg per format, waiting on its stdin, so a request does not wait for (or share the
 * CPU with) ffmpeg's start: a format is kept warm once asked for, and its spare replaced when taken.
 * A spare that died is dropped; `close` kills the spares.
 */
export class FfmpegPool {
  private readonly spares = new Map<SpeechFormat, Promise<ChildProcessWithoutNullStreams | undefined>>();
  private closed = false;

  constructor(private readonly path = 'ffmpeg') {}

  async take(format: SpeechFormat): Promise<ChildProcessWithoutNullStreams> {
    // Claimed before any await: two takes at once must not get the same process.
    const claimed = this.spares.get(format);
    this.spares.delete(format);
    this.refill(format);
    const spare = await claimed;
    if (spare && spare.exitCode === null && spare.signalCode === null) return spare;
    return startFfmpeg(this.path, format);
  }

  close(): void {
    this.closed = true;
    for (const spare of this.spares.values()) void spare.then((c) => c?.kill('SIGKILL'));
    this.spares.clear();
  }

  private refill(format: SpeechFormat): void {
    if (this.closed) return;
    this.spares.set(
      format,
      startFfmpeg(this.path, format).then(
        (child) => {
          // Errors on a spare's pipes (it was killed) are the taker's business, or nobody's.
          child.stdin.on('error', () => undefined);
          return child;
        },
        () => undefined,
      ),
    );
  }
}

async function ffmpegFor(options: SpeechEncoderOptions): Promise<ChildProcessWithoutNullStreams> {
  return options.ffmpegPool ? options.ffmpegPool.take(options.format) : startFfmpeg(options.ffmpegPath ?? 'ffmpeg', options.format);
}

export async function createSpeechEncoder(options: SpeechEncoderOptions): Promise<SpeechEncoder> {
  const { format, onData } = options;
  const resampler = new StreamingResampler(options.inputRate, SPEECH_OUTPUT_RATE);
  const contentType = speechContentType(format);
  switch (format) {
    case 'pcm':
      return new InProcessEncoder(contentType, resampler, (b) => b, () => Buffer.alloc(0), onData);
    case 'wav': {
      let header: Buffer | undefined = streamingWavHeader();
      const withHeader = (b: Buffer): Buffer => {
        if (!header) return b;
        const out = Buffer.concat([header, b]);
        header = undefined;
        return out;
      };
      return new InProcessEncoder(contentType, resampler, withHeader, () => withHeader(Buffer.alloc(0)), onData);
    }
    case 'mp3': {
      if (options.mp3ViaFfmpeg) return new FfmpegEncoder(contentType, resampler, await ffmpegFor(options), onData);
      const Mp3Encoder = mp3EncoderClass();
      const mp3 = new Mp3Encoder(1, SPEECH_OUTPUT_RATE, MP3_KBPS);
      const encode = (b: Buffer): Buffer => (b.length === 0 ? b : Buffer.from(mp3.encodeBuffer(new Int16Array(b.buffer, b.byteOffset, b.length / 2))));
      return new InProcessEncoder(contentType, resampler, encode, () => Buffer.from(mp3.flush()), onData);
    }
    case 'opus':
    case 'aac':
    case 'flac':
      return new FfmpegEncoder(contentType, resampler, await ffmpegFor(options), onData);
  }
}
