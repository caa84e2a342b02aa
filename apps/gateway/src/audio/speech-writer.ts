/**
 * Writes synthesized speech to the client as the worker sends it. `stream_format: audio` (the
 * default): the encoded bytes as the response body, chunk by chunk (chunked transfer), headers sent
 * with the first audio so that a failure before it is a plain JSON error; an audio body cannot
 * carry an error, so one after it cuts the transfer short (the client sees a broken response, never
 * a short file that looks whole). `stream_format: sse`: OpenAI's `speech.audio.delta` events
 * (base64 audio) then one `speech.audio.done` with usage, bare `data:` lines as OpenAI sends them; an
 * error after the first event is a last `data: {"error": ...}` event.
 */
import type { Response } from 'express';
import type { SpeechResult } from '@switchyard/contracts';
import { Logger } from '@switchyard/runtime';
import type { TaskStreamEvent } from '../core/inference.service';
import { OpenAIError } from '../core/openai-error';
import { sendOpenAIError, toOpenAIError } from '../core/openai-error.filter';
import { setWorkerHeader, SSE_HEADERS, writeOrDrop } from '../chat/response-writer';
import { SseKeepAlive } from '../core/sse-keepalive';

const log = new Logger('gateway.speech');

/** OpenAI's SpeechAudioDeltaEvent and SpeechAudioDoneEvent (the SDK returns the raw stream, untyped). */
export interface SpeechAudioDeltaEvent {
  type: 'speech.audio.delta';
  audio: string;
}
export interface SpeechAudioDoneEvent {
  type: 'speech.audio.done';
  usage: { input_tokens: number; output_tokens: number; total_tokens: number };
}

export function speechDeltaEvent(audio: string): SpeechAudioDeltaEvent {
  return { type: 'speech.audio.delta', audio };
}

export function speechDoneEvent(result: SpeechResult): SpeechAudioDoneEvent {
  return {
    type: 'speech.audio.done',
    usage: { input_tokens: result.inputTokens, output_tokens: result.outputTokens, total_tokens: result.inputTokens + result.outputTokens },
  };
}

type SpeechEvents = AsyncGenerator<TaskStreamEvent<SpeechResult>>;

/** Writes one piece; false when the client stopped reading for `stallMs` (the response is then destroyed). */
function write(res: Response, piece: string | Buffer, stallMs: number): Promise<boolean> {
  return writeOrDrop(res, piece, stallMs, 'speech');
}

function noResult(): OpenAIError {
  return new OpenAIError(502, 'The worker ended the speech without a result.', 'server_error', 'no_result');
}

/** What differs between the two forms: the headers, how audio and the result are written, and an error after the headers. */
interface SpeechForm {
  headers: Record<string, string>;
  audio(base64: string): Promise<boolean>;
  done(result: SpeechResult): Promise<void>;
  failedAfterStart(err: unknown): void;
}

/** Headers with the first audio (or the result), the worker's id as soon as it is known. */
async function writeSpeech(res: Response, events: SpeechEvents, form: SpeechForm): Promise<void> {
  const open = (): void => {
    if (!res.headersSent) res.writeHead(200, form.headers);
  };
  try {
    for await (const event of events) {
      if (event.type === 'delta') {
        if (!event.audio) continue;
        open();
        // Leaving the loop closes the events, which cancels the job; so does destroying the socket.
        if (!(await form.audio(event.audio))) return;
        continue;
      }
      setWorkerHeader(res, event.workerId);
      if (event.type === 'start') continue;
      open();
      await form.done(event.result);
      res.end();
      return;
    }
    throw noResult();
  } catch (err) {
    if (res.writableEnded || res.destroyed) return;
    if (!res.headersSent) sendOpenAIError(res, toOpenAIError(err));
    else form.failedAfterStart(err);
  }
}

/** The audio itself as the body; see the header for errors. */
export function writeSpeechAudio(res: Response, events: SpeechEvents, contentType: string, stallMs: number): Promise<void> {
  return writeSpeech(res, events, {
    headers: { 'Content-Type': contentType, 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' },
    audio: (base64) => write(res, Buffer.from(base64, 'base64'), stallMs),
    done: async () => undefined,
    failedAfterStart: (err) => {
      log.warn('speech failed after its first audio: transfer cut short', { error: err instanceof Error ? err.message : String(err) });
      res.destroy();
    },
  });
}

/** OpenAI's speech events over SSE; see the header for errors. */
export function writeSpeechSse(res: Response, events: SpeechEvents, stallMs: number, keepAliveMs = 0): Promise<void> {
  SseKeepAlive.start(res, { intervalMs: keepAliveMs, headers: SSE_HEADERS });
  const send = (obj: object): Promise<boolean> => write(res, `data: ${JSON.stringify(obj)}\n\n`, stallMs);
  return writeSpeech(res, events, {
    headers: { ...SSE_HEADERS },
    audio: (base64) => send(speechDeltaEvent(base64)),
    done: async (result) => {
      await send(speechDoneEvent(result));
    },
    failedAfterStart: (err) => sendOpenAIError(res, toOpenAIError(err)),
  });
}
