/**
 * The audio endpoints over real HTTP (Nest, express, multer, the gateway's body middleware and error
 * filter, the openai SDK as the client), with InferenceService and the catalog replaced by fakes: no
 * Redis or worker here. What a real worker answers is test/audio.e2e-spec.ts's business.
 */
import 'reflect-metadata';
import { Module, type INestApplication } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import OpenAI, { toFile } from 'openai';
import type { ModelDescriptor, TranscribeJobData, TranscribeResult } from '@switchyard/contracts';
import { GATEWAY_ENV, GatewayEnv } from '../core/gateway-config';
import { InferenceService, type TaskStreamEvent } from '../core/inference.service';
import { jsonBody } from '../core/json-body.middleware';
import { ModelCatalogService } from '../core/model-catalog.service';
import { OpenAIError } from '../core/openai-error';
import { OpenAIErrorFilter } from '../core/openai-error.filter';
import { AUDIO_UPLOAD_PATHS, AudioController } from './audio.controller';
import { AudioUploadInterceptor } from './audio-upload.interceptor';

const MAX_FILE = 4096;
const WAV = Buffer.from('RIFF....WAVEfmt ', 'latin1');

const speech = { name: 'whisper', aliases: ['whisper-1'], backend: 'onnx', task: 'speech-recognition', maxQueue: 8 } as unknown as ModelDescriptor;
const embedder = { name: 'embedder', aliases: [], backend: 'onnx', task: 'embeddings', maxQueue: 8 } as unknown as ModelDescriptor;

const catalog = {
  models: [speech, embedder],
  find: (id: string) => [speech, embedder].find((m) => m.name === id || m.aliases.includes(id)),
  require(id: string): ModelDescriptor {
    const m = this.find(id);
    if (!m) throw OpenAIError.modelNotFound(id);
    return m;
  },
};

const transcript: TranscribeResult = {
  kind: 'transcribe',
  text: ' Hello there. General Kenobi.',
  language: 'en',
  durationS: 2.5,
  segments: [
    { id: 0, seek: 0, start: 0, end: 1.2, text: ' Hello there.', tokens: [1, 2], temperature: 0, avg_logprob: -0.2, compression_ratio: 1, no_speech_prob: 0.01 },
    { id: 1, seek: 0, start: 1.2, end: 2.5, text: ' General Kenobi.', tokens: [3], temperature: 0, avg_logprob: -0.3, compression_ratio: 1, no_speech_prob: 0.02 },
  ],
  words: [{ word: 'Hello', start: 0, end: 0.5 }],
  outputTokens: 7,
  promptTokens: 2,
  audioTokens: 125,
};

/** Plays a script of events for each job and records the jobs and whether they were cancelled. */
class FakeInference {
  jobs: TranscribeJobData[] = [];
  aborted: boolean[] = [];
  script: Array<TaskStreamEvent<TranscribeResult> | Error | 'hang'> = [];

  async *streamTask(_model: ModelDescriptor, job: TranscribeJobData, signal: AbortSignal): AsyncGenerator<TaskStreamEvent<TranscribeResult>> {
    const i = this.jobs.push(job) - 1;
    this.aborted[i] = false;
    signal.addEventListener('abort', () => (this.aborted[i] = true));
    for (const step of this.script) {
      if (step === 'hang') await new Promise((resolve) => signal.addEventListener('abort', resolve));
      else if (step instanceof Error) throw step;
      else yield step;
      if (signal.aborted) throw new OpenAIError(499, 'cancelled', 'invalid_request_error');
    }
  }

  async runTask(model: ModelDescriptor, job: TranscribeJobData, signal: AbortSignal): Promise<{ result: TranscribeResult; workerId: string }> {
    for await (const e of this.streamTask(model, job, signal)) if (e.type === 'result') return { result: e.result, workerId: e.workerId };
    throw new Error('no result');
  }
}

const inference = new FakeInference();
let app: INestApplication;
let base: string;
let client: OpenAI;

beforeAll(async () => {
  const env = Object.assign(new GatewayEnv(), { AUDIO_MAX_FILE_BYTES: MAX_FILE, STREAM_STALL_MS: 1000 });
  @Module({
    controllers: [AudioController],
    providers: [
      AudioUploadInterceptor,
      { provide: GATEWAY_ENV, useValue: env },
      { provide: ModelCatalogService, useValue: catalog },
      { provide: InferenceService, useValue: inference },
      { provide: APP_FILTER, useClass: OpenAIErrorFilter },
    ],
  })
  class TestModule {}
  const nest = await NestFactory.create<NestExpressApplication>(TestModule, { bodyParser: false, logger: false });
  for (const step of jsonBody(64 * 1024, AUDIO_UPLOAD_PATHS)) nest.use(step);
  await nest.listen(0, '127.0.0.1');
  app = nest;
  base = (await nest.getUrl()).replace('[::1]', '127.0.0.1');
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'k', maxRetries: 0 });
});

afterAll(async () => {
  await app.close();
});

beforeEach(() => {
  inference.jobs = [];
  inference.aborted = [];
  inference.script = [{ type: 'start', workerId: 'w1' }, { type: 'result', result: transcript, workerId: 'w1' }];
});

function form(fields: Record<string, string | string[]>, file: Buffer | null = WAV, fileField = 'file'): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) f.append(k, x);
  if (file) f.append(fileField, new Blob([file], { type: 'audio/wav' }), 'clip.wav');
  return f;
}

type Answer = { error: { message: string; type: string; param: string | null; code: string | null } } & Record<string, unknown>;

async function post(path: string, body: FormData | string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; text: string; json: () => Answer }> {
  const r = await fetch(`${base}${path}`, { method: 'POST', body, headers });
  const text = await r.text();
  return { status: r.status, type: r.headers.get('content-type'), text, json: () => JSON.parse(text) };
}

describe('POST /v1/audio/transcriptions (fake InferenceService)', () => {
  it('answers json through the openai SDK, with the job built from the form', async () => {
    const t = await client.audio.transcriptions.create({ file: await toFile(WAV, 'clip.wav'), model: 'whisper-1', language: 'en', prompt: 'Obi', temperature: 0.4 });
    expect(t).toEqual({ text: 'Hello there. General Kenobi.', usage: { type: 'duration', seconds: 3 } });
    expect(inference.jobs).toHaveLength(1);
    expect(inference.jobs[0]).toMatchObject({
      kind: 'transcribe',
      model: 'whisper',
      task: 'transcribe',
      audio: WAV.toString('base64'),
      filename: 'clip.wav',
      language: 'en',
      prompt: 'Obi',
      temperature: 0.4,
      words: false,
      stream: false,
    });
  });

  it('answers verbose_json with words when the SDK asks for word timestamps', async () => {
    const t = await client.audio.transcriptions.create({
      file: await toFile(WAV, 'clip.wav'),
      model: 'whisper-1',
      response_format: 'verbose_json',
      timestamp_granularities: ['word'],
    });
    expect(t).toMatchObject({ task: 'transcribe', language: 'english', duration: 2.5, words: [{ word: 'Hello', start: 0, end: 0.5 }] });
    expect(t).not.toHaveProperty('segments');
    expect(inference.jobs[0].words).toBe(true);
  });

  it.each([
    ['text', 'Hello there. General Kenobi.\n'],
    ['srt', '1\n00:00:00,000 --> 00:00:01,200\nHello there.\n\n2\n00:00:01,200 --> 00:00:02,500\nGeneral Kenobi.\n\n'],
    ['vtt', 'WEBVTT\n\n00:00:00.000 --> 00:00:01.200\nHello there.\n\n00:00:01.200 --> 00:00:02.500\nGeneral Kenobi.\n\n'],
  ])('answers %s as text/plain', async (format, body) => {
    const r = await post('/v1/audio/transcriptions', form({ model: 'whisper-1', response_format: format }));
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain/);
    expect(r.text).toBe(body);
  });

  it('streams transcript events the SDK iterates, deltas adding up to the done text', async () => {
    inference.script = [
      { type: 'start', workerId: 'w1' },
      { type: 'delta', text: ' Hello there.' },
      { type: 'delta', text: ' General Kenobi.' },
      { type: 'result', result: transcript, workerId: 'w1' },
    ];
    const stream = await client.audio.transcriptions.create({ file: await toFile(WAV, 'clip.wav'), model: 'whisper-1', stream: true });
    const events: unknown[] = [];
    for await (const e of stream) events.push(e);
    expect(events).toEqual([
      { type: 'transcript.text.delta', delta: 'Hello there.' },
      { type: 'transcript.text.delta', delta: ' General Kenobi.' },
      {
        type: 'transcript.text.done',
        text: 'Hello there. General Kenobi.',
        usage: { type: 'tokens', input_tokens: 127, output_tokens: 7, total_tokens: 134, input_token_details: { text_tokens: 2, audio_tokens: 125 } },
      },
    ]);
    expect(inference.jobs[0].stream).toBe(true);
  });

  it('writes the stream as bare data lines, without event names or [DONE]', async () => {
    inference.script = [{ type: 'start', workerId: 'w2' }, { type: 'delta', text: ' Hi' }, { type: 'result', result: { ...transcript, text: ' Hi' }, workerId: 'w2' }];
    const r = await fetch(`${base}/v1/audio/transcriptions`, { method: 'POST', body: form({ model: 'whisper-1', stream: 'true' }) });
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(r.headers.get('x-switchyard-worker')).toBe('w2');
    expect(await r.text()).toBe(
      'data: {"type":"transcript.text.delta","delta":"Hi"}\n\n' +
        'data: {"type":"transcript.text.done","text":"Hi","usage":{"type":"tokens","input_tokens":127,"output_tokens":7,"total_tokens":134,"input_token_details":{"text_tokens":2,"audio_tokens":125}}}\n\n',
    );
  });

  it('ends a stream that fails mid-way with an error event, which the SDK throws', async () => {
    inference.script = [
      { type: 'delta', text: ' Hello' },
      new OpenAIError(502, 'The worker serving this request stopped responding.', 'server_error', 'worker_lost'),
    ];
    const stream = await client.audio.transcriptions.create({ file: await toFile(WAV, 'clip.wav'), model: 'whisper-1', stream: true });
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const e of stream) seen.push(e);
      })(),
    ).rejects.toMatchObject({ message: expect.stringContaining('stopped responding'), code: 'worker_lost' });
    expect(seen).toEqual([{ type: 'transcript.text.delta', delta: 'Hello' }]);
  });

  it('answers a failure before the first event as a plain HTTP error', async () => {
    inference.script = [new OpenAIError(400, 'The file is not audio.', 'invalid_request_error', 'invalid_audio', 'file')];
    const r = await post('/v1/audio/transcriptions', form({ model: 'whisper-1', stream: 'true' }));
    expect(r.status).toBe(400);
    expect(r.json()).toEqual({ error: { message: 'The file is not audio.', type: 'invalid_request_error', param: 'file', code: 'invalid_audio' } });
  });

  it('cancels the job when the client goes away', async () => {
    inference.script = [{ type: 'delta', text: ' Hello' }, 'hang'];
    const controller = new AbortController();
    const r = await fetch(`${base}/v1/audio/transcriptions`, { method: 'POST', body: form({ model: 'whisper-1', stream: 'true' }), signal: controller.signal });
    const reader = r.body!.getReader();
    await reader.read();
    controller.abort();
    for (let i = 0; i < 50 && !inference.aborted[0]; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(inference.aborted[0]).toBe(true);
  });

  it('refuses unknown and non-speech models as the other endpoints do', async () => {
    const unknown = await post('/v1/audio/transcriptions', form({ model: 'nope' }));
    expect(unknown.status).toBe(404);
    expect(unknown.json().error).toMatchObject({ param: 'model', code: 'model_not_found' });
    const wrong = await post('/v1/audio/transcriptions', form({ model: 'embedder' }));
    expect(wrong.status).toBe(400);
    expect(wrong.json().error).toMatchObject({ param: 'model', code: 'model_not_supported' });
    expect(inference.jobs).toHaveLength(0);
  });

  it.each([
    ['language', { language: 'klingon' }],
    ['temperature', { temperature: '3' }],
    ['response_format', { response_format: 'diarized_json' }],
    ['timestamp_granularities', { 'timestamp_granularities[]': 'word' }],
    ['timestamp_granularities', { response_format: 'verbose_json', 'timestamp_granularities[]': ['word', 'letter'] }],
    ['stream', { stream: 'true', response_format: 'srt' }],
  ])('refuses a bad %s with a 400 on that param', async (param, fields) => {
    const r = await post('/v1/audio/transcriptions', form({ model: 'whisper-1', ...fields }));
    expect(r.status).toBe(400);
    expect(r.json().error).toMatchObject({ type: 'invalid_request_error', param });
    expect(inference.jobs).toHaveLength(0);
  });

  it('reads timestamp_granularities[] and repeated plain fields alike', async () => {
    await post('/v1/audio/transcriptions', form({ model: 'whisper-1', response_format: 'verbose_json', 'timestamp_granularities[]': ['segment', 'word'] }));
    await post('/v1/audio/transcriptions', form({ model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'] }));
    expect(inference.jobs.map((j) => j.words)).toEqual([true, true]);
  });

  it('refuses a file over AUDIO_MAX_FILE_BYTES with a 413 on file', async () => {
    const r = await post('/v1/audio/transcriptions', form({ model: 'whisper-1' }, Buffer.alloc(MAX_FILE + 1)));
    expect(r.status).toBe(413);
    expect(r.json().error).toMatchObject({ type: 'invalid_request_error', param: 'file', code: 'file_too_large' });
  });

  it('takes a file of exactly AUDIO_MAX_FILE_BYTES', async () => {
    const r = await post('/v1/audio/transcriptions', form({ model: 'whisper-1' }, Buffer.alloc(MAX_FILE, 1)));
    expect(r.status).toBe(200);
  });

  it.each([
    ['no file', form({ model: 'whisper-1' }, null)],
    ['an empty file', form({ model: 'whisper-1' }, Buffer.alloc(0))],
    ['the file as a text field', form({ model: 'whisper-1', file: 'clip.wav' }, null)],
    ['the file in another part', form({ model: 'whisper-1' }, WAV, 'audio')],
    ['two files', (() => {
      const f = form({ model: 'whisper-1' });
      f.append('file', new Blob([WAV]), 'again.wav');
      return f;
    })()],
  ])('refuses %s with a 400 on file', async (_what, body) => {
    const r = await post('/v1/audio/transcriptions', body);
    expect(r.status).toBe(400);
    expect(r.json().error).toMatchObject({ param: 'file' });
  });

  it.each([
    ['JSON', '{"model":"whisper-1"}', { 'content-type': 'application/json' }],
    ['urlencoded', 'model=whisper-1', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['multipart without a boundary', 'x', { 'content-type': 'multipart/form-data' }],
    ['a multipart body cut short', '--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF', { 'content-type': 'multipart/form-data; boundary=b' }],
    ['a malformed part header', '--b\r\nnonsense\r\n\r\nx\r\n--b--\r\n', { 'content-type': 'multipart/form-data; boundary=b' }],
  ])('answers %s with a 400, not a 500', async (_what, body, headers) => {
    const r = await post('/v1/audio/transcriptions', body, headers);
    expect(r.status).toBe(400);
    expect(r.json().error.type).toBe('invalid_request_error');
  });

  it('still refuses multipart bodies with 415 on the JSON routes', async () => {
    const r = await post('/v1/embeddings', form({ model: 'embedder' }));
    expect(r.status).toBe(415);
    expect(r.json().error.code).toBe('unsupported_media_type');
  });
});

describe('POST /v1/audio/translations (fake InferenceService)', () => {
  it('queues a translate job and answers json without usage, through the SDK', async () => {
    const t = await client.audio.translations.create({ file: await toFile(WAV, 'clip.wav'), model: 'whisper-1', prompt: 'p' });
    expect(t).toEqual({ text: 'Hello there. General Kenobi.' });
    expect(inference.jobs[0]).toMatchObject({ task: 'translate', prompt: 'p', stream: false, words: false });
    expect(inference.jobs[0]).not.toHaveProperty('language');
  });

  it('answers verbose_json with english as the language and segments', async () => {
    const r = await post('/v1/audio/translations', form({ model: 'whisper-1', response_format: 'verbose_json' }));
    expect(r.json()).toMatchObject({ task: 'translate', language: 'english', segments: [{ id: 0 }, { id: 1 }] });
  });

  it('refuses a bad temperature on param temperature', async () => {
    const r = await post('/v1/audio/translations', form({ model: 'whisper-1', temperature: 'warm' }));
    expect(r.status).toBe(400);
    expect(r.json().error.param).toBe('temperature');
  });
});
