/**
 * What container an upload is, from its magic bytes alone (never from its file name or the client's
 * content type, which are often wrong): picks the in-process WAV decoder or the ffmpeg demuxer to
 * force, and names what a non-audio upload looks like so the client's 400 says so.
 */

/** The containers we decode. `mp4` covers m4a/mov/3gp; `mpeg` is an MPEG program stream (.mpeg/.mpg). */
export type AudioFormat = 'wav' | 'mp3' | 'aac' | 'flac' | 'ogg' | 'mp4' | 'webm' | 'mpeg' | 'mpegts' | 'aiff';

export type SniffResult =
  | { kind: 'audio'; format: AudioFormat }
  /** `looksLike` names a recognised non-audio file ("a PNG image"), or is null when nothing matched. */
  | { kind: 'unknown'; looksLike: string | null };

/**
 * The ffmpeg demuxer for each format. Forcing it (instead of letting ffmpeg probe) keeps ffmpeg off
 * playlist-style demuxers (HLS, concat) that would open other files or URLs named inside an upload.
 */
export const FFMPEG_DEMUXERS: Readonly<Record<AudioFormat, string>> = {
  wav: 'wav',
  mp3: 'mp3',
  aac: 'aac',
  flac: 'flac',
  ogg: 'ogg',
  mp4: 'mov',
  webm: 'matroska',
  mpeg: 'mpeg',
  mpegts: 'mpegts',
  aiff: 'aiff',
};

/** File extensions as OpenAI lists them, for error messages. */
export const SUPPORTED_EXTENSIONS = ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm'] as const;

function ascii(bytes: Uint8Array, at: number, length: number): string {
  if (bytes.length < at + length) return '';
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

/** An ID3v2 tag's total length (header, body and optional footer), or 0 when none starts at `at`. */
function id3Length(bytes: Uint8Array, at: number): number {
  if (ascii(bytes, at, 3) !== 'ID3' || bytes.length < at + 10) return 0;
  // The size is "syncsafe": 7 bits a byte, so it can never look like an MPEG frame sync.
  const size = ((bytes[at + 6] & 0x7f) << 21) | ((bytes[at + 7] & 0x7f) << 14) | ((bytes[at + 8] & 0x7f) << 7) | (bytes[at + 9] & 0x7f);
  const footer = bytes[at + 5] & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

function isAdts(bytes: Uint8Array, at: number): boolean {
  // 12 sync bits, then MPEG version, layer 00; a sampling-frequency index of 13-15 is reserved.
  return bytes.length >= at + 7 && bytes[at] === 0xff && (bytes[at + 1] & 0xf6) === 0xf0 && ((bytes[at + 2] >> 2) & 0x0f) < 13;
}

function isMpegAudioFrame(bytes: Uint8Array, at: number): boolean {
  if (bytes.length < at + 4 || bytes[at] !== 0xff || (bytes[at + 1] & 0xe0) !== 0xe0) return false;
  const version = (bytes[at + 1] >> 3) & 0x03;
  const layer = (bytes[at + 1] >> 1) & 0x03;
  const bitrate = bytes[at + 2] >> 4;
  const rate = (bytes[at + 2] >> 2) & 0x03;
  return version !== 1 && layer !== 0 && bitrate !== 0x0f && rate !== 0x03;
}

function isMpegTransportStream(bytes: Uint8Array): boolean {
  if (bytes.length < 188 * 2 + 1) return bytes.length >= 188 && bytes[0] === 0x47 && (bytes.length === 188 || bytes[188] === 0x47);
  return bytes[0] === 0x47 && bytes[188] === 0x47 && bytes[376] === 0x47;
}

/** ISO BMFF (mp4, m4a, mov, 3gp): `ftyp` first, or an old QuickTime file opening on another box. */
function isIsoBmff(bytes: Uint8Array): boolean {
  const box = ascii(bytes, 4, 4);
  return box === 'ftyp' || box === 'moov' || box === 'mdat' || box === 'wide' || box === 'free' || box === 'skip';
}

/** The container in `bytes`, from its first bytes. */
export function sniffAudioFormat(bytes: Uint8Array): SniffResult {
  const riff = ascii(bytes, 0, 4);
  if ((riff === 'RIFF' || riff === 'RIFX' || riff === 'RF64') && ascii(bytes, 8, 4) === 'WAVE') return audio('wav');
  if (riff === 'FORM' && (ascii(bytes, 8, 4) === 'AIFF' || ascii(bytes, 8, 4) === 'AIFC')) return audio('aiff');
  if (riff === 'fLaC') return audio('flac');
  if (riff === 'OggS') return audio('ogg');
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return audio('webm');
  if (isIsoBmff(bytes)) return audio('mp4');
  if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 1 && bytes[3] === 0xba) return audio('mpeg');
  if (isMpegTransportStream(bytes)) return audio('mpegts');
  // ID3 tags sit in front of mp3 mostly, but taggers put them before FLAC and ADTS streams too.
  const tag = id3Length(bytes, 0);
  if (tag > 0) {
    if (ascii(bytes, tag, 4) === 'fLaC') return audio('flac');
    if (isAdts(bytes, tag)) return audio('aac');
    return audio('mp3');
  }
  if (isAdts(bytes, 0)) return audio('aac');
  if (isMpegAudioFrame(bytes, 0)) return audio('mp3');
  return { kind: 'unknown', looksLike: nonAudioKind(bytes) };
}

function audio(format: AudioFormat): SniffResult {
  return { kind: 'audio', format };
}

/** What a file that is not audio looks like, for a friendlier message. */
function nonAudioKind(bytes: Uint8Array): string | null {
  const head = ascii(bytes, 0, 8);
  if (head.startsWith('\x89PNG')) return 'a PNG image';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'a JPEG image';
  if (head.startsWith('GIF8')) return 'a GIF image';
  if (head.startsWith('RIFF') && ascii(bytes, 8, 4) === 'WEBP') return 'a WebP image';
  if (head.startsWith('RIFF') && ascii(bytes, 8, 4) === 'AVI ') return 'an AVI video';
  if (head.startsWith('%PDF')) return 'a PDF document';
  if (head.startsWith('PK\x03\x04')) return 'a ZIP archive';
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return 'a gzip archive';
  if (looksLikeText(bytes)) return 'text';
  return null;
}

function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 512);
  if (head.length === 0) return false;
  for (const b of head) {
    // Binary audio has control bytes early; text has only tab, CR and LF among them.
    if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) return false;
  }
  try {
    // `stream` lets the 512-byte cut end inside a character.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}
