/**
 * Writes a transcription to the client: the whole transcript in the asked response_format, or, with
 * `stream=true`, OpenAI's transcript events over SSE: `transcript.text.delta` per piece of text,
 * then one `transcript.text.done` with the text and token usage. Like OpenAI's stream it has no
 * `event:` names and no `data: [DONE]` (the openai SDK reads both ways). An error before the first
 * event is a plain HTTP error; after it, a last `data: {"error": ...}` event, which the SDK throws.
 */
import type { Response } from 'express';
import type OpenAI from 'openai';
import { formatTranscript, type TimestampGranularity, type TranscriptFormat } from '@switchyard/audio';
import type { TranscribeResult, TranscriptTask } from '@switchyard/contracts';
import { Logger } from '@switchyard/runtime';
import type { TaskStreamEvent } from '../core/inference.service';
import { OpenAIError } from '../core/openai-error';
import { sendOpenAIError, toOpenAIError } from '../core/openai-error.filter';
import { SseKeepAlive } from '../core/sse-keepalive';
import { setWorkerHeader, SSE_HEADERS, waitForDrain } from '../chat/response-writer';

const log = new Logger('gateway.audio');

export function transcriptDeltaEvent(delta: string): OpenAI.Audio.TranscriptionTextDeltaEvent {
  return { type: 'transcript.text.delta', delta };
}

/** Usage as OpenAI reports it for token-billed transcription: input = prompt text + audio. */
export function transcriptDoneEvent(result: TranscribeResult): OpenAI.Audio.TranscriptionTextDoneEvent {
  const input = result.promptTokens + result.audioTokens;
  return {
    type: 'transcript.text.done',
    text: result.text.trim(),
    usage: {
      type: 'tokens',
      input_tokens: input,
      output_tokens: result.outputTokens,
      total_tokens: input + result.outputTokens,
      input_token_details: { text_tokens: result.promptTokens, audio_tokens: result.audioTokens },
    },
  };
}

/**
 * Turns segment texts into deltas whose concatenation is the done event's text: Whisper's segments
 * start with a space, which the final text (trimmed, as in every response format) does not.
 */
export class DeltaText {
  private started = false;

  next(text: string): string | undefined {
    const out = this.started ? text : text.trimStart();
    if (out === '') return undefined;
    this.started = true;
    return out;
  }
}

/** The whole transcript, in `format` with OpenAI's content type. */
export function sendTranscript(
  res: Response,
  result: TranscribeResult,
  options: { task: TranscriptTask; format: TranscriptFormat; timestampGranularities: readonly TimestampGranularity[] },
): void {
  const { contentType, body } = formatTranscript(result, options.format, { task: options.task, timestampGranularities: options.timestampGranularities });
  res.status(200).setHeader('Content-Type', contentType);
  res.end(body);
}

/** Streams the job's events as OpenAI's transcript events; see the header for errors. */
export async function writeTranscriptStream(res: Response, events: AsyncGenerator<TaskStreamEvent<TranscribeResult>>, stallMs: number, keepAliveMs = 0): Promise<void> {
  SseKeepAlive.start(res, { intervalMs: keepAliveMs, headers: SSE_HEADERS });
  const deltas = new DeltaText();
  const send = (obj: object): boolean => res.write(`data: ${JSON.stringify(obj)}\n\n`);
  const open = (): void => {
    if (res.headersSent) return;
    res.writeHead(200, SSE_HEADERS);
  };
  try {
    for await (const event of events) {
      if (event.type === 'start') {
        setWorkerHeader(res, event.workerId);
        continue;
      }
      if (event.type === 'result') {
        setWorkerHeader(res, event.workerId);
        open();
        send(transcriptDoneEvent(event.result));
        res.end();
        return;
      }
      const delta = deltas.next(event.text);
      if (delta === undefined) continue;
      open();
      // Leaving the loop closes the events, which cancels the job; so does destroying the socket.
      if (!send(transcriptDeltaEvent(delta)) && !(await waitForDrain(res, stallMs))) {
        if (!res.destroyed) log.warn('client stopped reading: transcript stream dropped', { stallMs });
        res.destroy();
        return;
      }
    }
    throw new OpenAIError(502, 'The worker ended the transcription without a result.', 'server_error', 'no_result');
  } catch (err) {
    if (res.writableEnded || res.destroyed) return;
    sendOpenAIError(res, toOpenAIError(err));
  }
}
