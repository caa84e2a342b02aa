/**
 * Speech to text end to end: POST /v1/audio/transcriptions and /v1/audio/translations through the
 * gateway, BullMQ and a real onnx worker running a generated random-weight Whisper (tone bursts
 * become one short English sentence each, silence nothing), with the official openai client as the
 * caller. Shapes are checked against OpenAI's OpenAPI schemas; the text against transformers.js's
 * own automatic-speech-recognition pipeline run in this process on the same samples.
 */
import '../libs/model-gen/src/onnx/node-realm.testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError, toFile } from 'openai';
import type * as Transformers from '@huggingface/transformers' with { 'resolution-mode': 'import' };
import { generateWhisperModel } from '@switchyard/model-gen';
import { ffmpegConvert, hasFfmpeg, tone, wavFile, type WavEncoding } from './support/audio-samples';
import { openapiAvailable, schemaErrors } from './support/openapi';
import { bursts, clip, floatWav, RATE } from './support/speech-audio';
import { busySlots, startStack, tinyOnnxModel, type Stack } from './support/stack';

jest.setTimeout(120_000);

/** The gateway's upload limit in this stack: small, so a 413 needs no 25 MB upload. */
const MAX_FILE_BYTES = 5 * 1024 * 1024;

/** 0.5 s silence, 3 s tone, 1 s silence, 2 s tone, 0.5 s silence: two segments, 7 s. */
const SHORT = clip([0.5, [3, 440], 1, [2, 660], 0.5]);
const SHORT_WAV = floatWav(SHORT);
const SHORT_S = SHORT.length / RATE;

type VerboseSegment = OpenAI.Audio.TranscriptionSegment;
type VerboseWord = OpenAI.Audio.TranscriptionWord;

function expectSchema(component: string, body: unknown): void {
  if (openapiAvailable()) expect(schemaErrors(component, body)).toEqual([]);
}

/** Segments in order, each inside the audio, none overlapping the one before. */
function expectOrderedSegments(segments: VerboseSegment[], durationS: number): void {
  expect(segments.length).toBeGreaterThan(0);
  segments.forEach((s, i) => {
    expect(s.id).toBe(i);
    expect(s.start).toBeLessThan(s.end);
    expect(s.start).toBeGreaterThanOrEqual(0);
    expect(s.end).toBeLessThanOrEqual(durationS + 0.01);
    if (i > 0) expect(s.start).toBeGreaterThanOrEqual(segments[i - 1].end - 1e-6);
    expect(s.text.trim().length).toBeGreaterThan(0);
  });
}

function expectOrderedWords(words: VerboseWord[], durationS: number): void {
  expect(words.length).toBeGreaterThan(0);
  let last = 0;
  for (const w of words) {
    expect(w.word.trim().length).toBeGreaterThan(0);
    expect(w.start).toBeGreaterThanOrEqual(last - 1e-6);
    expect(w.end).toBeGreaterThanOrEqual(w.start);
    expect(w.end).toBeLessThanOrEqual(durationS + 0.01);
    last = w.start;
  }
}

/** `HH:MM:SS,mmm` (srt) or `HH:MM:SS.mmm` (vtt) → seconds. */
function cueTime(t: string): number {
  const [h, m, s] = t.replace(',', '.').split(':');
  return Number(h) * 3600 + Number(m) * 60 + Number(s);
}

/** The cues of an srt or vtt body: [start, end, text]. */
function cues(body: string): Array<[number, number, string]> {
  const out: Array<[number, number, string]> = [];
  const re = /(\d\d:\d\d:\d\d[.,]\d\d\d) --> (\d\d:\d\d:\d\d[.,]\d\d\d)\n([^\n]*)/g;
  for (const m of body.matchAll(re)) out.push([cueTime(m[1]), cueTime(m[2]), m[3]]);
  return out;
}

interface RawAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- error bodies and transcripts of several shapes
  json: any;
  text: string;
  headers: Headers;
}

/** A multipart POST built by hand, for forms the SDK would not send (no file, no model, bad fields). */
async function postForm(stack: Stack, path: string, fields: Record<string, string | string[]>, file?: { bytes: Buffer; name: string }): Promise<RawAnswer> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) form.append(k, one);
  if (file) form.append('file', new Blob([new Uint8Array(file.bytes)]), file.name);
  const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', body: form });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

function expectOpenAIError(answer: RawAnswer, status: number, param?: string): void {
  expect({ status: answer.status, body: answer.text }).toMatchObject({ status });
  expect(answer.json).toMatchObject({ error: { message: expect.any(String), type: expect.any(String) } });
  expect(Object.keys(answer.json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  if (param !== undefined) expect(answer.json.error.param).toBe(param);
}

describe('speech to text: /v1/audio/transcriptions and /translations (e2e)', () => {
  let root: string;
  let whisperDir: string;
  let stack: Stack;
  let client: OpenAI;
  const ffmpeg = hasFfmpeg();
  let longWav: Buffer;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'switchyard-audio-e2e-'));
    // For the cancel test: 10 minutes of tone bursts as 8-bit 8 kHz WAV (4.8 MB, under the upload
    // limit), 20 windows, far longer to transcribe than a short clip. Made before the stack starts:
    // seconds of synchronous work mid-test would leave the client's idle keep-alive sockets dead.
    longWav = wavFile([bursts(600, 4, 1.5, 8000)], 8000, { encoding: 'pcm8' });
    whisperDir = generateWhisperModel({ dir: join(root, 'tiny-whisper'), shape: 'tiny', seed: 1 }).dir;
    const embedDir = tinyOnnxModel('tiny-embed', { task: 'embeddings', seed: 3 });
    stack = await startStack({
      models: [],
      workers: 0,
      gatewayEnv: { AUDIO_MAX_FILE_BYTES: String(MAX_FILE_BYTES) },
      onnxModels: [
        // The random weights' greedy text has a mean logprob near -2: under the default
        // logprob_threshold (-1) every window would fall back to sampling (see the fallback test).
        { name: 'tiny-whisper', aliases: ['whisper-1'], task: 'speech-recognition', path: whisperDir, threads: 1, logprob_threshold: null },
        { name: 'tiny-whisper-defaults', task: 'speech-recognition', path: whisperDir, threads: 1 },
        // Plain greedy decoding, no second tries: what transformers.js's pipeline does.
        {
          name: 'tiny-whisper-greedy',
          task: 'speech-recognition',
          path: whisperDir,
          threads: 1,
          temperature_fallback: [0],
          compression_ratio_threshold: null,
          logprob_threshold: null,
          no_speech_threshold: null,
        },
        // One job at a time: the next request can only run once a cancelled one let go.
        { name: 'tiny-whisper-single', task: 'speech-recognition', path: whisperDir, threads: 1, parallel: 1, logprob_threshold: null },
        { name: 'tiny-embed', task: 'embeddings', path: embedDir },
      ],
    });
    client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const wavUpload = (bytes: Buffer = SHORT_WAV, name = 'clip.wav'): Promise<File> => toFile(bytes, name, { type: 'audio/wav' }) as Promise<File>;

  describe('response formats', () => {
    it('json: the text with duration usage, application/json, OpenAI schema', async () => {
      const { data, response } = await client.audio.transcriptions.create({ file: await wavUpload(), model: 'whisper-1' }).withResponse();
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(data.text.length).toBeGreaterThan(0);
      expect(data.text).toBe(data.text.trim());
      // Two tone bursts: two short sentences.
      expect(data.text.split(/[.!?]/).filter((s) => s.trim()).length).toBe(2);
      expect(data.usage).toMatchObject({ type: 'duration' });
      expect((data.usage as { seconds: number }).seconds).toBeCloseTo(SHORT_S, 0);
      expectSchema('CreateTranscriptionResponseJson', data);
      // The same file again is the same text (greedy decoding is deterministic).
      expect((await client.audio.transcriptions.create({ file: await wavUpload(), model: 'tiny-whisper' })).text).toBe(data.text);
    });

    it('text, srt and vtt are text/plain and carry the same transcript as verbose_json', async () => {
      const verbose = await client.audio.transcriptions.create({ file: await wavUpload(), model: 'whisper-1', response_format: 'verbose_json' });
      const get = async (format: 'text' | 'srt' | 'vtt'): Promise<{ body: string; type: string | null }> => {
        const { data, response } = await client.audio.transcriptions.create({ file: await wavUpload(), model: 'whisper-1', response_format: format }).withResponse();
        return { body: data, type: response.headers.get('content-type') };
      };
      const text = await get('text');
      expect(text.type).toMatch(/^text\/plain/);
      expect(text.body.trim()).toBe(verbose.text);

      const srt = await get('srt');
      expect(srt.type).toMatch(/^text\/plain/);
      expect(srt.body.startsWith('1\n00:00:')).toBe(true);
      const srtCues = cues(srt.body);
      const segments = verbose.segments!;
      expect(srtCues).toHaveLength(segments.length);
      srtCues.forEach(([start, end, cueText], i) => {
        expect(start).toBeCloseTo(segments[i].start, 2);
        expect(end).toBeCloseTo(segments[i].end, 2);
        expect(cueText).toBe(segments[i].text.trim());
      });
      expect(srt.body).toMatch(/^\d+\n\d\d:\d\d:\d\d,\d\d\d --> /m);

      const vtt = await get('vtt');
      expect(vtt.type).toMatch(/^text\/plain/);
      expect(vtt.body.startsWith('WEBVTT')).toBe(true);
      expect(vtt.body).toMatch(/\d\d:\d\d:\d\d\.\d\d\d --> /);
      expect(cues(vtt.body).map(([s, e, t]) => [Number(s.toFixed(2)), Number(e.toFixed(2)), t])).toEqual(
        srtCues.map(([s, e, t]) => [Number(s.toFixed(2)), Number(e.toFixed(2)), t]),
      );
    });

    it('verbose_json: task, language, duration and segments in absolute times following the sound', async () => {
      const { data, response } = await client.audio.transcriptions
        .create({ file: await wavUpload(), model: 'whisper-1', response_format: 'verbose_json' })
        .withResponse();
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expectSchema('CreateTranscriptionResponseVerboseJson', data);
      expect(data).toMatchObject({ task: 'transcribe', language: 'english' });
      expect(data.duration).toBeCloseTo(SHORT_S, 1);
      const segments = data.segments!;
      expectOrderedSegments(segments, data.duration);
      expect(data.words).toBeUndefined();
      // The bursts are at 0.5–3.5 s and 4.5–6.5 s.
      expect(segments).toHaveLength(2);
      // (This model's first timestamp is always <|0.00|>.)
      expect(segments[0].start).toBeLessThan(0.6);
      expect(segments[0].end).toBeGreaterThan(3.2);
      expect(segments[0].end).toBeLessThan(4.6);
      expect(segments[1].start).toBeGreaterThan(4.2);
      expect(segments[1].end).toBeGreaterThan(6.2);
      expect(segments.map((s) => s.text).join('').trim()).toBe(data.text);
      for (const s of segments) {
        expect(s.seek).toBe(0);
        expect(s.tokens.length).toBeGreaterThan(0);
        expect(s.temperature).toBe(0);
        expect(s.avg_logprob).toBeLessThanOrEqual(0);
        expect(s.no_speech_prob).toBeGreaterThanOrEqual(0);
        expect(s.no_speech_prob).toBeLessThanOrEqual(1);
      }
    });

    it("timestamp_granularities ['word'] gives words only, ['word','segment'] both, words in order inside the audio", async () => {
      const words = await client.audio.transcriptions.create({
        file: await wavUpload(),
        model: 'whisper-1',
        response_format: 'verbose_json',
        timestamp_granularities: ['word'],
      });
      expectSchema('CreateTranscriptionResponseVerboseJson', words);
      expectOrderedWords(words.words!, words.duration);
      expect(words.segments).toBeUndefined();
      // The text's words in order; as OpenAI's words, without their punctuation.
      expect(words.words!.map((w) => w.word.trim()).join(' ')).toBe(words.text.replace(/[.!?]/g, '').replace(/\s+/g, ' ').trim());

      const both = await client.audio.transcriptions.create({
        file: await wavUpload(),
        model: 'whisper-1',
        response_format: 'verbose_json',
        timestamp_granularities: ['word', 'segment'],
      });
      expectSchema('CreateTranscriptionResponseVerboseJson', both);
      expect(both.text).toBe(words.text);
      expectOrderedWords(both.words!, both.duration);
      expectOrderedSegments(both.segments!, both.duration);
      // Every word lies inside a segment.
      for (const w of both.words!) expect(both.segments!.some((s) => w.start >= s.start - 0.01 && w.end <= s.end + 0.01)).toBe(true);
    });

    it('translations: json without usage, verbose_json with task translate and language english', async () => {
      const json = await client.audio.translations.create({ file: await wavUpload(), model: 'whisper-1' });
      expectSchema('CreateTranslationResponseJson', json);
      expect(json.text.length).toBeGreaterThan(0);
      expect((json as unknown as { usage?: unknown }).usage).toBeUndefined();

      // (The SDK's translation overloads do not narrow on response_format.)
      const verbose = (await client.audio.translations.create({ file: await wavUpload(), model: 'whisper-1', response_format: 'verbose_json' })) as unknown as OpenAI.Audio.TranslationVerbose;
      expectSchema('CreateTranslationResponseVerboseJson', verbose);
      expect(verbose).toMatchObject({ task: 'translate', language: 'english', text: json.text });
      expect(verbose.duration).toBeCloseTo(SHORT_S, 1);
      expectOrderedSegments(verbose.segments!, verbose.duration);

      const text = (await client.audio.translations.create({ file: await wavUpload(), model: 'whisper-1', response_format: 'text' })) as unknown as string;
      expect(text.trim()).toBe(json.text);
    });
  });

  it('temperature fallback: windows under logprob_threshold are decoded again up to 1.0; an asked temperature is used as is', async () => {
    const verbose = (model: string, temperature?: number): Promise<OpenAI.Audio.TranscriptionVerbose> =>
      wavUpload().then((file) => client.audio.transcriptions.create({ file, model, response_format: 'verbose_json', language: 'en', ...(temperature !== undefined ? { temperature } : {}) }));
    // Greedy (the check off): this model's mean logprob is under the default threshold of -1...
    const greedy = await verbose('tiny-whisper');
    for (const s of greedy.segments!) {
      expect(s.temperature).toBe(0);
      expect(s.avg_logprob).toBeLessThan(-1);
    }
    // ...so with the defaults every window goes through the whole fallback, to its last temperature.
    const fallback = await verbose('tiny-whisper-defaults');
    expect(fallback.segments!.length).toBeGreaterThan(0);
    for (const s of fallback.segments!) expect(s.temperature).toBe(1);
    const asked = await verbose('tiny-whisper-defaults', 0.3);
    expect(asked.segments!.length).toBeGreaterThan(0);
    for (const s of asked.segments!) expect(s.temperature).toBeCloseTo(0.3, 6);
  });

  describe('streaming', () => {
    it('transcript.text.delta events then one transcript.text.done; the deltas add up to the done text and the json text', async () => {
      const whole = await client.audio.transcriptions.create({ file: await wavUpload(), model: 'whisper-1' });
      const stream = await client.audio.transcriptions.create({ file: await wavUpload(), model: 'whisper-1', stream: true });
      const events: OpenAI.Audio.TranscriptionStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      const deltas = events.filter((e): e is OpenAI.Audio.TranscriptionTextDeltaEvent => e.type === 'transcript.text.delta');
      const done = events.filter((e): e is OpenAI.Audio.TranscriptionTextDoneEvent => e.type === 'transcript.text.done');
      // One delta per segment (two bursts), then done, last.
      expect(deltas.length).toBeGreaterThanOrEqual(1);
      expect(done).toHaveLength(1);
      expect(events.at(-1)).toBe(done[0]);
      expect(events).toHaveLength(deltas.length + 1);
      for (const d of deltas) expectSchema('TranscriptTextDeltaEvent', d);
      expectSchema('TranscriptTextDoneEvent', done[0]);
      expect(deltas.map((d) => d.delta).join('')).toBe(done[0].text);
      expect(done[0].text).toBe(whole.text);
      expect(done[0].usage).toMatchObject({ type: 'tokens' });
      const usage = done[0].usage as { input_tokens: number; output_tokens: number; total_tokens: number };
      expect(usage.output_tokens).toBeGreaterThan(0);
      expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
    });
  });

  describe('input formats', () => {
    /** 0.3 s silence, 2.5 s tone, 0.4 s silence: 3.2 s. */
    const source = clip([0.3, [2.5, 440], 0.4]);
    const sourceS = source.length / RATE;
    const pcm16 = wavFile([source], RATE, { encoding: 'pcm16' });

    async function duration(bytes: Buffer, name: string): Promise<OpenAI.Audio.TranscriptionVerbose> {
      const r = await client.audio.transcriptions.create({ file: await toFile(bytes, name), model: 'whisper-1', response_format: 'verbose_json' });
      expect(r.text.length).toBeGreaterThan(0);
      return r;
    }

    const encoded: Array<[string, string, string[]]> = [
      ['mp3', 'clip.mp3', ['-c:a', 'libmp3lame', '-b:a', '64k']],
      ['flac', 'clip.flac', ['-c:a', 'flac']],
      ['ogg/opus', 'clip.ogg', ['-c:a', 'libopus', '-b:a', '32k']],
      ['ogg/vorbis', 'clip.ogg', ['-c:a', 'libvorbis']],
      ['m4a (aac)', 'clip.m4a', ['-c:a', 'aac', '-b:a', '64k']],
      ['webm (opus)', 'clip.webm', ['-c:a', 'libopus', '-b:a', '32k']],
      ['mp4 (aac)', 'clip.mp4', ['-c:a', 'aac', '-b:a', '64k']],
    ];
    it.each(encoded)('%s made by ffmpeg from a WAV transcribes with its real duration', async (_label, name, args) => {
      if (!ffmpeg) return;
      const bytes = ffmpegConvert(pcm16, 'in.wav', name, args);
      // The file name says nothing to the server: it sniffs the bytes.
      const r = await duration(bytes, `upload-${name.replace(/\..*$/, '.bin')}`);
      expect(Math.abs(r.duration - sourceS)).toBeLessThanOrEqual(0.1);
    });

    const encodings: WavEncoding[] = ['pcm8', 'pcm16', 'pcm24', 'pcm32', 'float32'];
    it.each(encodings)('WAV %s at 44.1 kHz stereo transcribes with its real duration', async (encoding) => {
      const left = tone(440, 3, 44_100, 0.5);
      const right = tone(440, 3, 44_100, 0.3);
      const r = await duration(wavFile([left, right], 44_100, { encoding }), 'stereo.wav');
      expect(Math.abs(r.duration - 3)).toBeLessThanOrEqual(0.1);
    });

    it('a 65 s file: segments past 30 s in absolute times, ordered, none overlapping', async () => {
      const long = bursts(65);
      const r = await client.audio.transcriptions.create({ file: await toFile(wavFile([long], RATE, { encoding: 'pcm16' }), 'long.wav'), model: 'whisper-1', response_format: 'verbose_json' });
      expect(Math.abs(r.duration - 65)).toBeLessThanOrEqual(0.1);
      const segments = r.segments!;
      expectOrderedSegments(segments, r.duration);
      // 12 bursts (4 s on, 1.5 s off): at least one segment each, the last ones past 60 s.
      expect(segments.length).toBeGreaterThanOrEqual(12);
      expect(segments.filter((s) => s.start > 30).length).toBeGreaterThanOrEqual(5);
      expect(segments.at(-1)!.end).toBeGreaterThan(60);
      // Later windows have their own seek (mel frames of 10 ms).
      expect(Math.max(...segments.map((s) => s.seek))).toBeGreaterThan(2000);
      expect(segments.map((s) => s.text).join('').trim()).toBe(r.text);
    });
  });

  describe('bad input', () => {
    const T = '/v1/audio/transcriptions';
    const ok = { bytes: SHORT_WAV, name: 'clip.wav' };

    it('a file over AUDIO_MAX_FILE_BYTES is a 413', async () => {
      const big = Buffer.concat([SHORT_WAV, Buffer.alloc(MAX_FILE_BYTES - SHORT_WAV.length + 1)]);
      expectOpenAIError(await postForm(stack, T, { model: 'whisper-1' }, { bytes: big, name: 'big.wav' }), 413);
    });

    it('not audio, an empty file, no file, no model: 400s naming the field', async () => {
      expectOpenAIError(await postForm(stack, T, { model: 'whisper-1' }, { bytes: Buffer.from('this is not audio, only text. '.repeat(50)), name: 'speech.mp3' }), 400, 'file');
      expectOpenAIError(await postForm(stack, T, { model: 'whisper-1' }, { bytes: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Buffer.alloc(200)]), name: 'a.wav' }), 400, 'file');
      expectOpenAIError(await postForm(stack, T, { model: 'whisper-1' }, { bytes: Buffer.alloc(0), name: 'empty.wav' }), 400, 'file');
      expectOpenAIError(await postForm(stack, T, { model: 'whisper-1' }), 400, 'file');
      expectOpenAIError(await postForm(stack, T, {}, ok), 400, 'model');
    });

    it('a bad response_format or timestamp_granularities is a 400 naming it', async () => {
      expectOpenAIError(await postForm(stack, T, { model: 'whisper-1', response_format: 'xml' }, ok), 400, 'response_format');
      expectOpenAIError(await postForm(stack, T, { model: 'whisper-1', response_format: 'verbose_json', 'timestamp_granularities[]': 'sentence' }, ok), 400, 'timestamp_granularities');
      // Through the SDK too: its APIError carries the param.
      const err = await client.audio.transcriptions
        .create({ file: await wavUpload(), model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['letter' as 'word'] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(APIError);
      expect((err as APIError).status).toBe(400);
      expect((err as APIError).param).toBe('timestamp_granularities');
    });

    it('an unknown model is a 404, a model of another kind a 400', async () => {
      expectOpenAIError(await postForm(stack, T, { model: 'no-such-whisper' }, ok), 404, 'model');
      expectOpenAIError(await postForm(stack, T, { model: 'tiny-embed' }, ok), 400, 'model');
      expectOpenAIError(await postForm(stack, '/v1/audio/translations', { model: 'tiny-embed' }, ok), 400, 'model');
    });

    it('after all of them the worker still answers a normal request', async () => {
      const r = await client.audio.transcriptions.create({ file: await wavUpload(), model: 'whisper-1' });
      expect(r.text.length).toBeGreaterThan(0);
    });
  });

  it('8 concurrent requests all get the text a single request gets', async () => {
    const single = await client.audio.transcriptions.create({ file: await wavUpload(), model: 'whisper-1', response_format: 'verbose_json' });
    const all = await Promise.all(
      Array.from({ length: 8 }, async () => client.audio.transcriptions.create({ file: await wavUpload(), model: 'whisper-1', response_format: 'verbose_json' })),
    );
    for (const r of all) {
      expect(r.text).toBe(single.text);
      expect(r.segments!.map((s) => [s.start, s.end])).toEqual(single.segments!.map((s) => [s.start, s.end]));
    }
  });

  it('a client that leaves mid-transcription stops its job: the one slot serves the next request at once', async () => {
    expect(longWav.length).toBeLessThan(MAX_FILE_BYTES);
    const quick = async (): Promise<number> => {
      const t0 = Date.now();
      const r = await client.audio.transcriptions.create({ file: await wavUpload(), model: 'tiny-whisper-single' });
      expect(r.text.length).toBeGreaterThan(0);
      return Date.now() - t0;
    };
    // Busy slots of this model in the worker's heartbeat (other tests' jobs show in other models).
    const singleBusy = (): Promise<number> => busySlots(stack, 'tiny-whisper-single');
    const alone = await quick();
    const controller = new AbortController();
    const started = Date.now();
    const pending = client.audio.transcriptions
      .create({ file: await toFile(longWav, 'long.wav'), model: 'tiny-whisper-single' }, { signal: controller.signal })
      .catch((e: unknown) => e);
    // Wait until the worker holds the job (its heartbeat counts a busy slot), let it decode a
    // little, then leave.
    while ((await singleBusy()) === 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
    expect(await singleBusy()).toBe(1);
    await new Promise((r) => setTimeout(r, 1000));
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    // Had the job gone on, the quick request would wait for its 20 windows (tens of seconds here).
    const took = await quick();
    expect(took).toBeLessThan(alone + 3000);
    // And its slot is free in the heartbeats (a quick request is over between two of them).
    const t1 = Date.now();
    while ((await singleBusy()) > 0 && Date.now() - t1 < 5000) await new Promise((r) => setTimeout(r, 100));
    expect(await singleBusy()).toBe(0);
  });

  describe('against transformers.js run directly', () => {
    let pipe: Transformers.AutomaticSpeechRecognitionPipeline | undefined;
    afterAll(async () => {
      await pipe?.dispose();
    });

    it('at temperature 0 without fallback, the json text is the pipeline text (return_timestamps: true)', async () => {
      // The CommonJS build (jest cannot import ESM without --experimental-vm-modules).
      const transformers = createRequire(__filename)('@huggingface/transformers') as typeof Transformers;
      transformers.env.allowRemoteModels = false;
      pipe = (await transformers.pipeline('automatic-speech-recognition', whisperDir, { local_files_only: true })) as Transformers.AutomaticSpeechRecognitionPipeline;
      const clips = [SHORT, clip([1, [4, 523], 0.5, [1.5, 440], 2, [6, 330], 0.2])];
      for (const samples of clips) {
        const direct = (await pipe(samples, { language: 'en', task: 'transcribe', return_timestamps: true })) as { text: string };
        const ours = await client.audio.transcriptions.create({ file: await toFile(floatWav(samples), 'clip.wav'), model: 'tiny-whisper-greedy', language: 'en', temperature: 0 });
        expect(ours.text).toBe(direct.text.trim());
      }
    });
  });
});
