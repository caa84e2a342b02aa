/**
 * Sends a generation to the client: one JSON body, or SSE chunks ending in `data: [DONE]`. Errors
 * before the first token become normal HTTP errors; after it (or after a keep-alive comment sent
 * during a long queue wait, see SseKeepAlive), a final SSE error event. A client
 * that goes away aborts the generation, and so does one that stops reading (see `waitForDrain`).
 */
import type { Request, Response } from 'express';
import { Logger } from '@switchyard/runtime';
import { mergeToolCallDeltas, type ModelDescriptor, type QueuedJobData, type Usage } from '@switchyard/contracts';
import type { IndexedEvent, InferenceService } from '../core/inference.service';
import { sendOpenAIError, toOpenAIError } from '../core/openai-error.filter';
import { SseKeepAlive } from '../core/sse-keepalive';
import { toOpenAIUsage, type ChoiceResult, type ResponseFormatter } from './openai-format';

const log = new Logger('gateway.stream');

/**
 * Resolves true once the response's buffer drains, false when the client has not read for `ms` (or
 * went away). Without this bound a client that stops reading keeps its generation running to
 * max_tokens while every chunk piles up in the gateway's memory.
 */
export function waitForDrain(res: Response, ms: number): Promise<boolean> {
  if (!res.writableNeedDrain) return Promise.resolve(!res.destroyed);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const timer = setTimeout(() => done(false), ms);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Names the worker that serves a response, for operators, while its headers can still change. */
export function setWorkerHeader(res: Response, workerId: string): void {
  if (!res.headersSent) res.setHeader('X-Switchyard-Worker', workerId);
}

/** The headers of every SSE response (no proxy buffering, no caching). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/**
 * Writes one piece of a streamed body, waiting for the buffer to drain; false (and the response
 * destroyed) when the client has not read for `stallMs`.
 */
export async function writeOrDrop(res: Response, piece: string | Buffer, stallMs: number, what: string): Promise<boolean> {
  if (res.write(piece) || (await waitForDrain(res, stallMs))) return true;
  if (!res.destroyed) log.warn(`client stopped reading: ${what} dropped`, { stallMs });
  res.destroy();
  return false;
}

/** An AbortSignal that fires when the client disconnects before the response finished. */
export function clientGone(req: Request, res: Response): AbortController {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  req.socket.setNoDelay(true);
  return controller;
}

/**
 * The whole of a generation endpoint after validation: run the jobs, abort them when the client
 * leaves, and write the response in the endpoint's format.
 */
export async function serveGeneration(options: {
  req: Request;
  res: Response;
  inference: InferenceService;
  model: ModelDescriptor;
  jobs: QueuedJobData[];
  stream: boolean;
  includeUsage: boolean;
  formatter: (includeUsage: boolean) => ResponseFormatter;
  /** STREAM_STALL_MS. */
  stallMs: number;
  /** SSE_KEEPALIVE_MS (streams only). */
  keepAliveMs: number;
}): Promise<void> {
  const { req, res, jobs } = options;
  const includeUsage = options.stream && options.includeUsage;
  const abort = clientGone(req, res);
  if (options.stream) SseKeepAlive.start(res, { intervalMs: options.keepAliveMs, headers: SSE_HEADERS });
  await writeGeneration({
    res,
    events: options.inference.generate(options.model, jobs, abort.signal),
    formatter: options.formatter(includeUsage),
    choices: jobs.length,
    stream: options.stream,
    includeUsage,
    stallMs: options.stallMs,
  });
}

export async function writeGeneration(options: {
  res: Response;
  events: AsyncGenerator<IndexedEvent>;
  formatter: ResponseFormatter;
  choices: number;
  stream: boolean;
  includeUsage: boolean;
  stallMs: number;
}): Promise<void> {
  const { res, events, formatter, choices } = options;
  const results: ChoiceResult[] = Array.from({ length: choices }, () => ({
    text: '',
    reasoning: '',
    toolCalls: [],
    logprobs: undefined,
    finishReason: 'stop',
    echo: undefined,
  }));
  const usage: Required<Usage> = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 };
  let full = false;
  const send = (obj: object): void => {
    if (!res.write(`data: ${JSON.stringify(obj)}\n\n`)) full = true;
  };
  let headersOut = false;
  // The choice whose worker the header names; a retried job's second start (another worker, after
  // the first died before streaming) names the worker that serves it.
  let headerChoice: number | undefined;
  const openStream = (): void => {
    headersOut = true;
    // A long wait in the queue may have sent them already, with keep-alive comments (SseKeepAlive).
    if (!res.headersSent) res.writeHead(200, SSE_HEADERS);
    for (const chunk of formatter.opening(choices)) send(chunk);
  };
  try {
    for await (const { index, event } of events) {
      if (event.type === 'start') {
        // Which worker served the request, for operators (several choices: the first one's).
        if (!res.headersSent && (headerChoice === undefined || headerChoice === index)) {
          setWorkerHeader(res, event.workerId);
          headerChoice = index;
        }
        // max_tokens beyond the room left in the context is clamped, and said so.
        if (event.maxTokensClamped !== undefined && !res.headersSent) res.setHeader('X-Switchyard-Max-Tokens-Clamped', String(event.maxTokensClamped));
        if (event.echo !== undefined) {
          results[index].echo = event.echo;
          if (options.stream) {
            if (!headersOut) openStream();
            const chunk = formatter.echo(index, event.echo);
            if (chunk) send(chunk);
          }
        }
        continue;
      }
      if (options.stream && !headersOut) openStream();
      const result = results[index];
      if (event.type === 'delta') {
        if (options.stream) {
          const chunk = formatter.delta(index, event);
          if (chunk) send(chunk);
        } else {
          result.text += event.text;
          if (event.reasoning) result.reasoning += event.reasoning;
          if (event.toolCalls) mergeToolCallDeltas(result.toolCalls, event.toolCalls);
          if (event.logprobs) (result.logprobs ??= []).push(...event.logprobs);
        }
      } else if (event.type === 'done') {
        result.finishReason = event.finishReason;
        usage.promptTokens += event.usage.promptTokens;
        usage.completionTokens += event.usage.completionTokens;
        usage.cachedTokens += event.usage.cachedTokens ?? 0;
        usage.reasoningTokens += event.usage.reasoningTokens ?? 0;
        if (options.stream) send(formatter.finish(index, event.finishReason));
      }
      if (full) {
        full = false;
        // Leaving the loop ends the event stream; destroying the socket aborts the jobs (clientGone).
        if (!(await waitForDrain(res, options.stallMs))) {
          if (!res.destroyed) log.warn('client stopped reading: stream dropped', { stallMs: options.stallMs });
          res.destroy();
          return;
        }
      }
    }
  } catch (err) {
    if (res.writableEnded || res.destroyed) return;
    sendOpenAIError(res, toOpenAIError(err));
    return;
  }
  if (res.destroyed) return;
  const total = toOpenAIUsage(usage);
  if (options.stream) {
    if (!headersOut) openStream();
    if (options.includeUsage) send(formatter.usage(total));
    res.end('data: [DONE]\n\n');
  } else {
    res.status(200).json(formatter.complete(results, total));
  }
}
