import { sniffAudioFormat } from './audio-format';

const b = (s: string, pad = 64) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(pad)]);

describe('sniffAudioFormat', () => {
  it.each([
    ['RIFF WAVE', b('RIFF\x24\x00\x00\x00WAVEfmt '), 'wav'],
    ['RF64 WAVE', b('RF64\xff\xff\xff\xffWAVEds64'), 'wav'],
    ['RIFX WAVE (big-endian)', b('RIFX\x00\x00\x00\x24WAVEfmt '), 'wav'],
    ['AIFF', b('FORM\x00\x00\x10\x00AIFFCOMM'), 'aiff'],
    ['AIFF-C', b('FORM\x00\x00\x10\x00AIFCFVER'), 'aiff'],
    ['FLAC', b('fLaC\x00\x00\x00\x22'), 'flac'],
    ['FLAC behind an ID3 tag', b('ID3\x03\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00fLaC'), 'flac'],
    ['Ogg', b('OggS\x00\x02'), 'ogg'],
    ['EBML (WebM, Matroska)', b('\x1a\x45\xdf\xa3\x9f\x42\x86\x81'), 'webm'],
    ['MP4 ftyp', b('\x00\x00\x00\x20ftypisom'), 'mp4'],
    ['M4A ftyp', b('\x00\x00\x00\x1cftypM4A '), 'mp4'],
    ['QuickTime without ftyp', b('\x00\x00\x00\x08wide\x00\x00\x10\x00mdat'), 'mp4'],
    ['MPEG program stream', b('\x00\x00\x01\xba\x44\x00'), 'mpeg'],
    ['MPEG transport stream', Buffer.concat([b('\x47\x40', 186), b('\x47\x01', 186), b('\x47\x01', 186)]), 'mpegts'],
    ['mp3 with ID3v2', b('ID3\x04\x00\x00\x00\x00\x00\x10'), 'mp3'],
    ['mp3 frame (MPEG-1 layer III, 128 kb/s, 44.1 kHz)', b('\xff\xfb\x90\x64'), 'mp3'],
    ['mp2 frame (MPEG-1 layer II)', b('\xff\xfd\x90\x04'), 'mp3'],
    ['MPEG-2 layer III frame (22.05 kHz)', b('\xff\xf3\x90\x64'), 'mp3'],
    ['ADTS AAC (MPEG-4)', b('\xff\xf1\x50\x80\x02\x1f\xfc'), 'aac'],
    ['ADTS AAC (MPEG-2)', b('\xff\xf9\x50\x80\x02\x1f\xfc'), 'aac'],
    ['ADTS behind an ID3 tag', b('ID3\x04\x00\x00\x00\x00\x00\x00\xff\xf1\x50\x80\x02\x1f\xfc'), 'aac'],
  ])('%s', (_name, bytes, format) => {
    expect(sniffAudioFormat(bytes)).toEqual({ kind: 'audio', format });
  });

  it.each([
    ['PNG', b('\x89PNG\r\n\x1a\n'), 'a PNG image'],
    ['JPEG', b('\xff\xd8\xff\xe0\x00\x10JFIF'), 'a JPEG image'],
    ['GIF', b('GIF89a'), 'a GIF image'],
    ['WebP (a RIFF that is not WAVE)', b('RIFF\x00\x10\x00\x00WEBPVP8 '), 'a WebP image'],
    ['AVI', b('RIFF\x00\x10\x00\x00AVI LIST'), 'an AVI video'],
    ['PDF', b('%PDF-1.7\n'), 'a PDF document'],
    ['ZIP', b('PK\x03\x04\x14\x00'), 'a ZIP archive'],
    ['gzip', b('\x1f\x8b\x08\x00'), 'a gzip archive'],
    ['text', Buffer.from('{"text": "not audio"}\n'), 'text'],
    ['UTF-8 text', Buffer.from('Grüße, 世界\n'), 'text'],
    ['binary noise', Buffer.from([0x00, 0x13, 0x7f, 0x80, 0x01, 0xfe, 0x22, 0x05]), null],
    ['a reserved MPEG version', b('\xff\xeb\x90\x64'), null],
    ['one byte', Buffer.from([0xff]), null],
  ])('%s is not audio', (_name, bytes, looksLike) => {
    expect(sniffAudioFormat(bytes)).toEqual({ kind: 'unknown', looksLike });
  });
});
