/**
 * Text to speech end to end: POST /v1/audio/speech and GET /v1/audio/voices through the gateway,
 * BullMQ and a real onnx worker running generated random-weight VITS voices on sherpa-onnx, with
 * the official openai client as the caller. Every format's container is checked by its header and
 * decoded back with ffmpeg; SSE events are checked against OpenAI's OpenAPI schemas.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { generateVitsModel } from '@switchyard/model-gen';
import { hasFfmpeg } from './support/audio-samples';
import { expectOpenAIError } from './support/errors';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { itIf } from './support/skip';
import { busySlots, readSse, startStack, tinyOnnxModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

/** OpenAI's output: 24 kHz 16-bit mono. */
const RATE = 24_000;
const BYTES_PER_SECOND = RATE * 2;

const SENTENCE = 'The quick brown fox jumps over the lazy dog.';
/** Twelve sentences: twelve pieces synthesized one after another. */
const LONG = Array.from({ length: 12 }, (_, i) => `Sentence number ${i + 1} is here, and it goes on for a while.`).join(' ');

type Format = 'mp3' | 'opus' | 'aac' | 'flac' | 'wav' | 'pcm';

/** The container's magic bytes, as a check of what came back. */
const HEADER_CHECKS: Record<Format, (b: Buffer) => boolean> = {
  // ID3 tag, or an MPEG audio frame sync (11 set bits).
  mp3: (b) => b.subarray(0, 3).toString('latin1') === 'ID3' || (b[0] === 0xff && (b[1] & 0xe0) === 0xe0),
  opus: (b) => b.subarray(0, 4).toString('latin1') === 'OggS' && b.subarray(28, 36).toString('latin1') === 'OpusHead',
  // ADTS sync: 12 set bits.
  aac: (b) => b[0] === 0xff && (b[1] & 0xf0) === 0xf0,
  flac: (b) => b.subarray(0, 4).toString('latin1') === 'fLaC',
  wav: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WAVE',
  pcm: () => true,
};

const CONTENT_TYPES: Record<Format, RegExp> = {
  mp3: /^audio\/mpeg/,
  opus: /^audio\/(ogg|opus)/,
  aac: /^audio\/aac/,
  flac: /^audio\/flac/,
  wav: /^audio\/(wav|x-wav)/,
  pcm: /^audio\/pcm/,
};

/** Decodes any container back to 24 kHz mono s16le with ffmpeg; returns seconds of audio and the samples. */
function decode(bytes: Buffer, format: Format): { seconds: number; samples: Int16Array } {
  const input = format === 'pcm' ? ['-f', 's16le', '-ar', String(RATE), '-ac', '1'] : [];
  const out = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...input, '-i', 'pipe:0', '-f', 's16le', '-ar', String(RATE), '-ac', '1', 'pipe:1'], {
    input: bytes,
    maxBuffer: 256 * 1024 * 1024,
  });
  const samples = new Int16Array(out.buffer, out.byteOffset, out.length / 2);
  return { seconds: samples.length / RATE, samples };
}

function rms(samples: Int16Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / Math.max(1, samples.length)) / 32768;
}

interface RawAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- error bodies of several shapes
  json: any;
  body: Buffer;
  headers: Headers;
}

describe('text to speech: /v1/audio/speech and /v1/audio/voices (e2e)', () => {
  let root: string;
  let stack: Stack;
  let client: OpenAI;
  const ffmpeg = hasFfmpeg();
  const withFfmpeg = itIf(ffmpeg, 'ffmpeg on PATH (apt-get install ffmpeg)');

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'switchyard-speech-e2e-'));
    const tiny = generateVitsModel({ dir: join(root, 'tiny-voice'), shape: 'tiny', seed: 1, speakers: 2 });
    // A voice of Piper "medium" dimensions: a long input takes seconds, so streaming and cancelling show.
    const medium = generateVitsModel({ dir: join(root, 'medium-voice'), shape: 'piper-medium', seed: 2 });
    const embedDir = tinyOnnxModel('tiny-embed', { task: 'embeddings', seed: 3 });
    stack = await startStack({
      models: [],
      workers: 0,
      onnxModels: [
        { name: 'tiny-voice', aliases: ['tts-1', 'gpt-4o-mini-tts'], task: 'text-to-speech', path: tiny.dir, threads: 1, voices: { narrator: 1 }, speakers: 2 },
        // One job at a time: the next request can only run once a cancelled one let go.
        { name: 'medium-voice', task: 'text-to-speech', path: medium.dir, threads: 1, parallel: 1 },
        { name: 'short-voice', task: 'text-to-speech', path: tiny.dir, threads: 1, max_input: 100 },
        { name: 'tiny-embed', task: 'embeddings', path: embedDir },
      ],
    });
    client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function speech(body: Record<string, unknown>): Promise<RawAnswer> {
    const res = await fetch(`${stack.baseUrl}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bytes = Buffer.from(await res.arrayBuffer());
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
    return { status: res.status, json, body: bytes, headers: res.headers };
  }

  async function pcm(input: string, voice = 'alloy', speed = 1, model = 'tts-1'): Promise<Buffer> {
    const res = await client.audio.speech.create({ model, voice, input, response_format: 'pcm', speed });
    return Buffer.from(await res.arrayBuffer());
  }

  describe('formats', () => {
    it('mp3 is the default: audio/mpeg, MPEG frames, decodes to the pcm answer\'s duration', async () => {
      const reference = (await pcm(SENTENCE)).length / BYTES_PER_SECOND;
      expect(reference).toBeGreaterThan(0.5);
      const res = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: SENTENCE });
      expect(res.headers.get('content-type')).toMatch(CONTENT_TYPES.mp3);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(HEADER_CHECKS.mp3(bytes)).toBe(true);
      if (!ffmpeg) return;
      const decoded = decode(bytes, 'mp3');
      // mp3 pads with the encoder's delay and whole frames (1152 samples at 24 kHz = 48 ms).
      expect(Math.abs(decoded.seconds - reference)).toBeLessThan(0.1);
      expect(rms(decoded.samples)).toBeGreaterThan(0.005);
    });

    withFfmpeg.each(['opus', 'aac', 'flac', 'wav', 'pcm'] as const)('%s: its content type and container, decoded back to the same duration', async (format) => {
      const reference = (await pcm(SENTENCE)).length / BYTES_PER_SECOND;
      const res = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: SENTENCE, response_format: format });
      expect(res.headers.get('content-type')).toMatch(CONTENT_TYPES[format]);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(HEADER_CHECKS[format](bytes)).toBe(true);
      const decoded = decode(bytes, format);
      expect(Math.abs(decoded.seconds - reference)).toBeLessThan(format === 'opus' || format === 'aac' ? 0.1 : 0.01);
      expect(rms(decoded.samples)).toBeGreaterThan(0.005);
    });

    it('pcm is raw 24 kHz s16le: the wav answer is a 24 kHz mono 16-bit header and exactly the pcm bytes', async () => {
      const raw = await pcm(SENTENCE);
      expect(raw.length % 2).toBe(0);
      const wav = Buffer.from(await (await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: SENTENCE, response_format: 'wav' })).arrayBuffer());
      expect(wav.readUInt16LE(20)).toBe(1); // PCM
      expect(wav.readUInt16LE(22)).toBe(1); // mono
      expect(wav.readUInt32LE(24)).toBe(RATE);
      expect(wav.readUInt16LE(34)).toBe(16);
      const dataAt = wav.indexOf('data', 12, 'latin1');
      expect(dataAt).toBeGreaterThan(0);
      expect(wav.subarray(dataAt + 8).equals(raw)).toBe(true);
    });

    it('is deterministic: the same request gives the same audio', async () => {
      expect((await pcm(SENTENCE)).equals(await pcm(SENTENCE))).toBe(true);
    });
  });

  describe('voices and speed', () => {
    it('OpenAI voice names map onto the speakers; speakers sound different; the model\'s own names and ids work', async () => {
      const alloy = await pcm(SENTENCE, 'alloy'); // speaker 0
      const ash = await pcm(SENTENCE, 'ash'); // speaker 1
      expect(ash.equals(alloy)).toBe(false);
      // ballad is the third name: speaker 2 wraps to 0 on a two-speaker model.
      expect((await pcm(SENTENCE, 'ballad')).equals(alloy)).toBe(true);
      expect((await pcm(SENTENCE, 'narrator')).equals(ash)).toBe(true);
      expect((await pcm(SENTENCE, '1')).equals(ash)).toBe(true);
      // A voice object ({ id }) as the newer API takes it.
      const res = await speech({ model: 'tts-1', voice: { id: 'ash' }, input: SENTENCE, response_format: 'pcm' });
      expect(res.status).toBe(200);
      expect(res.body.equals(ash)).toBe(true);
    });

    it('speed 0.5 and 2 give about twice and half the duration', async () => {
      const normal = (await pcm(LONG)).length;
      const slow = (await pcm(LONG, 'alloy', 0.5)).length;
      const fast = (await pcm(LONG, 'alloy', 2)).length;
      expect(slow / normal).toBeGreaterThan(1.7);
      expect(slow / normal).toBeLessThan(2.3);
      expect(fast / normal).toBeGreaterThan(0.4);
      expect(fast / normal).toBeLessThan(0.6);
    });

    it('GET /v1/audio/voices lists each voice model\'s names with their speakers', async () => {
      const res = await fetch(`${stack.baseUrl}/v1/audio/voices?model=tts-1`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { object: string; data: Array<{ id: string; model: string; speaker_id: number | null; openai_voice: boolean }>; voices: string[] };
      expect(body.object).toBe('list');
      const ids = body.data.map((v) => v.id);
      for (const v of ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar', 'narrator']) expect(ids).toContain(v);
      expect(body.data.find((v) => v.id === 'narrator')).toMatchObject({ model: 'tiny-voice', speaker_id: 1, openai_voice: false });
      expect(body.data.find((v) => v.id === 'ballad')).toMatchObject({ speaker_id: 0, openai_voice: true });
      expect(body.voices).toEqual(expect.arrayContaining(['alloy', 'narrator']));
      const all = (await (await fetch(`${stack.baseUrl}/v1/audio/voices`)).json()) as { data: Array<{ model: string }> };
      expect(new Set(all.data.map((v) => v.model))).toEqual(new Set(['tiny-voice', 'medium-voice', 'short-voice']));
      expect((await fetch(`${stack.baseUrl}/v1/audio/voices?model=nope`)).status).toBe(404);
      expect((await fetch(`${stack.baseUrl}/v1/audio/voices?model=tiny-embed`)).status).toBe(400);
    });
  });

  describe('streaming', () => {
    it('stream_format sse: speech.audio.delta events then speech.audio.done with usage, OpenAPI-valid, the same audio as the plain answer', async () => {
      const raw = await pcm(LONG);
      const res = await fetch(`${stack.baseUrl}/v1/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: LONG, response_format: 'pcm', stream_format: 'sse' }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = (await readSse(res)).map((d) => JSON.parse(d) as { type: string; audio?: string; usage?: Record<string, number> });
      const deltas = events.filter((e) => e.type === 'speech.audio.delta');
      // One piece per sentence or so: the audio came in many events, not one at the end.
      expect(deltas.length).toBeGreaterThanOrEqual(6);
      const done = events[events.length - 1];
      expect(done.type).toBe('speech.audio.done');
      expect(events.filter((e) => e.type === 'speech.audio.done')).toHaveLength(1);
      if (openapiAvailable()) {
        for (const e of deltas.slice(0, 3)) expect(schemaErrors('SpeechAudioDeltaEvent', e)).toEqual([]);
        expect(schemaErrors('SpeechAudioDoneEvent', done)).toEqual([]);
      }
      const audio = Buffer.concat(deltas.map((e) => Buffer.from(e.audio!, 'base64')));
      expect(audio.equals(raw)).toBe(true);
      expect(done.usage!.input_tokens).toBe(LONG.length);
      expect(done.usage!.output_tokens).toBe(Math.ceil((raw.length / BYTES_PER_SECOND) * 50));
      expect(done.usage!.total_tokens).toBe(done.usage!.input_tokens + done.usage!.output_tokens);
    });

    it('audio starts flowing after the first sentence, well before the last (chunked body)', async () => {
      const t0 = Date.now();
      const res = await fetch(`${stack.baseUrl}/v1/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'medium-voice', voice: 'alloy', input: LONG, response_format: 'mp3' }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      const reader = res.body!.getReader();
      let first = 0;
      let chunks = 0;
      let bytes = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (chunks === 0) first = Date.now() - t0;
        chunks++;
        bytes += value.length;
      }
      const total = Date.now() - t0;
      expect(bytes).toBeGreaterThan(1000);
      expect(chunks).toBeGreaterThanOrEqual(4);
      expect(first).toBeLessThan(total * 0.5);
    });

    withFfmpeg('six concurrent requests all get their whole audio', async () => {
      const reference = await pcm(LONG);
      const answers = await Promise.all(
        (['mp3', 'wav', 'pcm', 'flac', 'opus', 'pcm'] as const).map(async (format) => {
          const res = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: LONG, response_format: format });
          return { format, bytes: Buffer.from(await res.arrayBuffer()) };
        }),
      );
      for (const { format, bytes } of answers) {
        if (format === 'pcm') expect(bytes.equals(reference)).toBe(true);
        else expect(Math.abs(decode(bytes, format).seconds - reference.length / BYTES_PER_SECOND)).toBeLessThan(0.1);
      }
    });

    it('a client that leaves mid-speech stops the synthesis: the one slot serves the next request at once', async () => {
      const busy = (): Promise<number> => busySlots(stack, 'medium-voice');
      const quick = async (): Promise<number> => {
        const t0 = Date.now();
        expect((await pcm(SENTENCE, 'alloy', 1, 'medium-voice')).length).toBeGreaterThan(0);
        return Date.now() - t0;
      };
      const alone = await quick();
      const longest = Array.from({ length: 60 }, (_, i) => `This is sentence ${i + 1} of a long text that takes a while to read.`).join(' ');
      const controller = new AbortController();
      const res = await fetch(`${stack.baseUrl}/v1/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'medium-voice', voice: 'alloy', input: longest, response_format: 'pcm' }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      await reader.read(); // the first audio has come: the job is running
      controller.abort();
      await reader.read().catch(() => undefined);
      // Had it gone on, the quick request would wait behind 60 sentences (many seconds here).
      const took = await quick();
      expect(took).toBeLessThan(alone + 3000);
      const t1 = Date.now();
      while ((await busy()) > 0 && Date.now() - t1 < 5000) await new Promise((r) => setTimeout(r, 100));
      expect(await busy()).toBe(0);
    });
  });

  describe('bad input', () => {
    const good = { model: 'tts-1', voice: 'alloy', input: SENTENCE };
    it.each([
      ['empty input', { ...good, input: '' }, 'input'],
      ['whitespace input', { ...good, input: '   \n ' }, 'input'],
      ['input not a string', { ...good, input: 42 }, 'input'],
      ['missing input', { model: 'tts-1', voice: 'alloy' }, 'input'],
      ['missing voice', { model: 'tts-1', input: SENTENCE }, 'voice'],
      ['missing model', { voice: 'alloy', input: SENTENCE }, 'model'],
      ['unknown voice', { ...good, voice: 'darth' }, 'voice'],
      ['voice object without id', { ...good, voice: { name: 'alloy' } }, 'voice'],
      ['unknown format', { ...good, response_format: 'ogg' }, 'response_format'],
      ['speed too low', { ...good, speed: 0.1 }, 'speed'],
      ['speed too high', { ...good, speed: 4.5 }, 'speed'],
      ['speed not a number', { ...good, speed: 'fast' }, 'speed'],
      ['unknown stream_format', { ...good, stream_format: 'websocket' }, 'stream_format'],
      ['a speaker id the model does not have', { ...good, voice: '7' }, 'voice'],
    ])('%s: 400 with param', async (_name, body, param) => {
      expectOpenAIError(await speech(body), 400, param);
    });

    it('input over the model\'s limit: 400 on input (4096 by default, here 100)', async () => {
      expectOpenAIError(await speech({ ...good, model: 'short-voice', input: 'a'.repeat(101) }), 400, 'input');
      expect((await speech({ ...good, model: 'short-voice', input: 'a. '.repeat(33), response_format: 'pcm' })).status).toBe(200);
      expectOpenAIError(await speech({ ...good, input: 'word '.repeat(820) }), 400, 'input');
    });

    it('unknown model 404; a model that is not a voice 400 on model', async () => {
      expectOpenAIError(await speech({ ...good, model: 'no-such-voice' }), 404, 'model');
      const notVoice = await speech({ ...good, model: 'tiny-embed' });
      expectOpenAIError(notVoice, 400, 'model');
      expect(notVoice.json.error.code).toBe('model_not_supported');
    });

    it('the worker is still serving after all of it', async () => {
      expect((await pcm(SENTENCE)).length).toBeGreaterThan(0);
      expect(stack.workers.every((w) => w.exitCode === null)).toBe(true);
    });
  });
});
