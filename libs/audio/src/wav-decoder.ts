/**
 * In-process WAV decoding (no ffmpeg): walks the RIFF chunks in any order, reads integer PCM of 8 to
 * 32 bits, IEEE float, A-law and mu-law, plain or WAVE_FORMAT_EXTENSIBLE, and downmixes to mono at
 * the file's own rate. Streaming writers leave the data size at 0 or 0xFFFFFFFF, and a file cut
 * short keeps what arrived: both read to the end of the file. Codecs this does not read (ADPCM,
 * GSM, ...) and big-endian RIFX come back as `foreign`, for ffmpeg.
 */
import { invalidAudio } from './audio-rejections';

/** WAVE format tags (mmreg.h). */
const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_ALAW = 0x0006;
const FORMAT_MULAW = 0x0007;
const FORMAT_EXTENSIBLE = 0xfffe;

export interface WavInfo {
  /** The effective format tag (an EXTENSIBLE file's sub-format). */
  formatTag: number;
  channels: number;
  sampleRate: number;
  /** Container bits per sample. */
  bitsPerSample: number;
  blockAlign: number;
  dataOffset: number;
  dataLength: number;
  /** Whole frames in the data chunk. */
  frames: number;
}

export type WavParse = { kind: 'wav'; info: WavInfo } | { kind: 'foreign'; reason: string };

interface Chunk {
  id: string;
  offset: number;
  size: number;
}

/** 32-bit sizes a streaming writer leaves unset. */
function isUnsetSize(size: number): boolean {
  return size === 0 || size === 0xffffffff;
}

function chunkId(b: Buffer, at: number): string {
  return b.toString('latin1', at, at + 4);
}

/** Every chunk after the 12-byte RIFF header; the data chunk may extend to the end of the file. */
function readChunks(b: Buffer): Chunk[] {
  const chunks: Chunk[] = [];
  let at = 12;
  while (at + 8 <= b.length) {
    const id = chunkId(b, at);
    let size = b.readUInt32LE(at + 4);
    const offset = at + 8;
    if (id === 'data' && (isUnsetSize(size) || offset + size > b.length)) {
      // A streamed header, an RF64 placeholder or a truncated upload: the samples run to the end.
      chunks.push({ id, offset, size: b.length - offset });
      break;
    }
    if (offset + size > b.length) size = b.length - offset;
    chunks.push({ id, offset, size });
    // Chunks are padded to an even length.
    at = offset + size + (size & 1);
  }
  return chunks;
}

/** Reads the header of a RIFF/RF64 WAVE file; throws a Rejection when it is not a usable WAV. */
export function parseWav(b: Buffer): WavParse {
  const riff = chunkId(b, 0);
  if (b.length < 12 || chunkId(b, 8) !== 'WAVE') throw invalidAudio('The file is not a valid WAV file.');
  if (riff === 'RIFX') return { kind: 'foreign', reason: 'big-endian RIFX' };
  const chunks = readChunks(b);
  const fmt = chunks.find((c) => c.id === 'fmt ');
  const data = chunks.find((c) => c.id === 'data');
  if (!fmt || fmt.size < 16) throw invalidAudio('The WAV file has no valid format chunk.');
  if (!data) throw invalidAudio('The WAV file has no data chunk.');
  let formatTag = b.readUInt16LE(fmt.offset);
  const channels = b.readUInt16LE(fmt.offset + 2);
  const sampleRate = b.readUInt32LE(fmt.offset + 4);
  let blockAlign = b.readUInt16LE(fmt.offset + 12);
  const bitsPerSample = b.readUInt16LE(fmt.offset + 14);
  if (formatTag === FORMAT_EXTENSIBLE) {
    if (fmt.size < 40) throw invalidAudio('The WAV file has a truncated WAVE_FORMAT_EXTENSIBLE header.');
    // The sub-format GUID's first two bytes are the plain format tag (KSDATAFORMAT_SUBTYPE_*).
    formatTag = b.readUInt16LE(fmt.offset + 24);
  }
  if (channels === 0) throw invalidAudio('The WAV file declares zero channels.');
  if (sampleRate < 1000 || sampleRate > 768_000) throw invalidAudio(`The WAV file's sample rate (${sampleRate} Hz) is out of range.`);
  const known = formatTag === FORMAT_PCM || formatTag === FORMAT_FLOAT || formatTag === FORMAT_ALAW || formatTag === FORMAT_MULAW;
  if (!known) return { kind: 'foreign', reason: `WAVE format 0x${formatTag.toString(16).padStart(4, '0')}` };
  const bytes = Math.ceil(bitsPerSample / 8);
  const valid =
    (formatTag === FORMAT_PCM && bytes >= 1 && bytes <= 4) ||
    (formatTag === FORMAT_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64)) ||
    ((formatTag === FORMAT_ALAW || formatTag === FORMAT_MULAW) && bitsPerSample === 8);
  if (!valid) throw invalidAudio(`The WAV file's ${bitsPerSample}-bit samples are not valid for its format.`);
  // Some writers get blockAlign wrong; the frame is at least one container per channel.
  if (blockAlign < channels * bytes) blockAlign = channels * bytes;
  const frames = Math.floor(data.size / blockAlign);
  return {
    kind: 'wav',
    info: { formatTag, channels, sampleRate, bitsPerSample, blockAlign, dataOffset: data.offset, dataLength: data.size, frames },
  };
}

function alawToLinear(v: number): number {
  const a = v ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return (a & 0x80 ? magnitude : -magnitude) / 32768;
}

function mulawToLinear(v: number): number {
  const u = ~v & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return (u & 0x80 ? -magnitude : magnitude) / 32768;
}

/** A 256-entry table for the 8-bit companded formats. */
function companderTable(decode: (v: number) => number): Float32Array {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = decode(i);
  return t;
}

type SampleReader = (b: Buffer, at: number) => number;

function sampleReader(info: WavInfo): SampleReader {
  const bytes = Math.ceil(info.bitsPerSample / 8);
  switch (info.formatTag) {
    case FORMAT_FLOAT:
      return bytes === 4 ? (b, at) => b.readFloatLE(at) : (b, at) => b.readDoubleLE(at);
    case FORMAT_ALAW: {
      const t = companderTable(alawToLinear);
      return (b, at) => t[b[at]];
    }
    case FORMAT_MULAW: {
      const t = companderTable(mulawToLinear);
      return (b, at) => t[b[at]];
    }
    default:
      // Integer PCM is left-justified in its container, so the container width sets the scale.
      if (bytes === 1) return (b, at) => (b[at] - 128) / 128;
      if (bytes === 2) return (b, at) => b.readInt16LE(at) / 32768;
      if (bytes === 3) return (b, at) => b.readIntLE(at, 3) / 8388608;
      return (b, at) => b.readInt32LE(at) / 2147483648;
  }
}

/** The data chunk as mono samples at the file's rate: the mean of the channels, non-finite values as 0. */
export function decodeWavMono(b: Buffer, info: WavInfo): Float32Array {
  const read = sampleReader(info);
  const bytes = Math.ceil(info.bitsPerSample / 8);
  const { channels, blockAlign, frames, dataOffset } = info;
  const out = new Float32Array(frames);
  const scale = 1 / channels;
  for (let f = 0; f < frames; f++) {
    const at = dataOffset + f * blockAlign;
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(b, at + c * bytes);
    const v = sum * scale;
    // A float WAV can carry NaN or Inf, which would poison every log-mel frame they touch.
    out[f] = Number.isFinite(v) ? v : 0;
  }
  return out;
}
