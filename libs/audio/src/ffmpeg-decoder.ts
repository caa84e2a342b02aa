/**
 * Decodes every non-WAV upload with the system's ffmpeg as a subprocess: the bytes go in on stdin,
 * 16 kHz mono float32 comes out on stdout, nothing touches the disk. The demuxer is forced from the
 * sniffed format and only the pipe (or loopback HTTP) protocol is allowed, so an upload cannot make
 * ffmpeg open other files or URLs. The process is killed on timeout, on abort, and as soon as its
 * output passes the duration limit; its stderr becomes the client's error message.
 */
import { spawn } from 'node:child_process';
import { FFMPEG_DEMUXERS, type AudioFormat } from './audio-format';
import { audioTooLong, ffmpegNeeded, invalidAudio } from './audio-rejections';
import { serveBytes } from './range-server';

export interface FfmpegDecodeOptions {
  ffmpegPath: string;
  sampleRate: number;
  timeoutMs: number;
  maxDurationS: number;
  signal?: AbortSignal;
  /** How messages name the input (default the format), e.g. "WAV (WAVE format 0x0002)". */
  label?: string;
}

/** What the startup probe found. */
export interface FfmpegProbe {
  available: boolean;
  path: string;
  /** From `ffmpeg -version`'s first line, e.g. "5.1.9-0+deb12u1". */
  version?: string;
  /** Why it is not available (ENOENT, a non-zero exit, a timeout). */
  error?: string;
}

/** How much of ffmpeg's stderr is kept for the error message. */
const STDERR_KEEP = 8192;

/** Runs `ffmpeg -version` once; never throws. */
export function probeFfmpeg(ffmpegPath = 'ffmpeg', timeoutMs = 5000): Promise<FfmpegProbe> {
  return new Promise((resolve) => {
    let out = '';
    let settled = false;
    const done = (p: FfmpegProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(p);
    };
    const child = spawn(ffmpegPath, ['-hide_banner', '-version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ available: false, path: ffmpegPath, error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('error', (err: NodeJS.ErrnoException) => done({ available: false, path: ffmpegPath, error: err.code ?? err.message }));
    child.on('close', (code) => {
      const version = /ffmpeg version (\S+)/.exec(out)?.[1];
      if (code === 0 && version) done({ available: true, path: ffmpegPath, version });
      else done({ available: false, path: ffmpegPath, error: `'${ffmpegPath} -version' exited with ${code}` });
    });
  });
}

/** True when ffmpeg runs: for the worker's one startup line. */
export async function ffmpegAvailable(ffmpegPath = 'ffmpeg'): Promise<boolean> {
  return (await probeFfmpeg(ffmpegPath)).available;
}

/** The worker's one startup line about ffmpeg. */
export function describeFfmpeg(p: FfmpegProbe): string {
  if (p.available) return `ffmpeg ${p.version ?? ''} at '${p.path}': every audio format is decoded`;
  return `ffmpeg not usable at '${p.path}' (${p.error ?? 'unknown'}): only WAV audio is accepted, other formats get a 400; install ffmpeg (Debian: apt-get install ffmpeg) or set its path`;
}

/**
 * Whether an MP4's samples come before its moov box (ffmpeg's default layout), so that reading it
 * needs a seek back. Unparsable layouts count as needing it: the seekable input handles both.
 */
export function mp4NeedsSeek(b: Buffer): boolean {
  let at = 0;
  while (at + 8 <= b.length) {
    let size = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    if (type === 'moov') return false;
    if (type === 'mdat') return true;
    if (size === 1) {
      if (at + 16 > b.length) return true;
      size = Number(b.readBigUInt64BE(at + 8));
    } else if (size === 0) {
      return true;
    }
    if (size < 8) return true;
    at += size;
  }
  return true;
}

/**
 * The first audio stream as mono float32. `-rematrix_maxval 1` scales the downmix matrix to unit
 * gain, so stereo comes out as the mean of its channels (as the WAV path makes it) rather than
 * ffmpeg's default 0.707·(L+R), which can pass full scale.
 */
function outputArgs(sampleRate: number): string[] {
  return [
    ...['-map', '0:a:0', '-vn', '-sn', '-dn'],
    ...['-ac', '1', '-rematrix_maxval', '1', '-ar', String(sampleRate)],
    ...['-c:a', 'pcm_f32le', '-f', 'f32le', 'pipe:1'],
  ];
}

/** Decodes `bytes` (already sniffed as `format`) to mono float32 at `o.sampleRate`. */
export async function decodeWithFfmpeg(bytes: Buffer, format: AudioFormat, o: FfmpegDecodeOptions): Promise<Float32Array> {
  o.signal?.throwIfAborted();
  const demuxer = ['-f', FFMPEG_DEMUXERS[format]];
  const head = ['-hide_banner', '-nostats', '-loglevel', 'error', '-threads', '1'];
  if (format === 'mp4' && mp4NeedsSeek(bytes)) {
    const served = await serveBytes(bytes).catch(() => undefined);
    if (served) {
      try {
        const args = [...head, '-nostdin', '-protocol_whitelist', 'http,tcp', ...demuxer, '-i', served.url, ...outputArgs(o.sampleRate)];
        return await runFfmpeg(args, null, format, o, served.url);
      } finally {
        served.close();
      }
    }
    // No loopback socket to be had: the pipe still reads MP4s whose moov fits ffmpeg's read buffer.
  }
  const args = [...head, '-protocol_whitelist', 'pipe', ...demuxer, '-i', 'pipe:0', ...outputArgs(o.sampleRate)];
  return runFfmpeg(args, bytes, format, o, 'pipe:0');
}

/** ffmpeg's complaint as one short line for the client, without our URL or its internal addresses. */
export function summarizeStderr(stderr: string, input: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.replaceAll(input, 'input').replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/, '').trim())
    .filter((l) => l !== '' && !/^Last message repeated/.test(l));
  const line = lines.at(-1) ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

function failureFor(stderr: string, input: string, label: string): Error {
  if (/matches no streams|does not contain any stream|Output file .* does not contain/i.test(stderr)) {
    return invalidAudio('The file has no audio stream.');
  }
  const why = summarizeStderr(stderr, input);
  return invalidAudio(`The audio file could not be decoded as ${label}${why ? ` (${why})` : ''}.`);
}

function runFfmpeg(args: string[], stdin: Buffer | null, format: AudioFormat, o: FfmpegDecodeOptions, input: string): Promise<Float32Array> {
  const label = o.label ?? format;
  const maxBytes = Math.ceil(o.maxDurationS * o.sampleRate) * 4;
  return new Promise<Float32Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let settled = false;
    const child = spawn(o.ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const finish = (err: unknown, value?: Float32Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      // Whatever ended the decode, the process must not outlive it.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (value) resolve(value);
      else reject(err);
    };
    const onAbort = () => finish(o.signal?.reason ?? new Error('aborted'));
    const timer = setTimeout(
      () => finish(invalidAudio(`Decoding the ${label} file took longer than ${Math.round(o.timeoutMs / 1000)} s.`)),
      o.timeoutMs,
    );
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) => {
      finish(err.code === 'ENOENT' || err.code === 'EACCES' ? ffmpegNeeded(label) : err);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxBytes) finish(audioTooLong(o.maxDurationS));
      else chunks.push(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-STDERR_KEEP);
    });
    child.on('close', (code, signal) => {
      if (code !== 0) {
        finish(signal ? new Error(`ffmpeg was killed by ${signal}`) : failureFor(stderr, input, label));
        return;
      }
      finish(undefined, toFloat32(chunks, outBytes));
    });
    // ffmpeg may stop reading early (bad data, the size limit): EPIPE then is expected, not fatal.
    child.stdin.on('error', () => undefined);
    if (stdin) child.stdin.end(stdin);
    else child.stdin.end();
  });
}

/** Joins stdout's chunks into one aligned Float32Array (a trailing partial sample is dropped). */
function toFloat32(chunks: Buffer[], total: number): Float32Array {
  const out = new Float32Array(Math.floor(total / 4));
  const view = new Uint8Array(out.buffer);
  let at = 0;
  for (const c of chunks) {
    const n = Math.min(c.length, view.length - at);
    view.set(c.subarray(0, n), at);
    at += n;
  }
  return out;
}
