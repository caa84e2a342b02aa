/**
 * Keeps a streaming response alive while it has nothing to say: a request waiting in its queue for
 * a slot (or in a long prefill) writes nothing for minutes, and a proxy with an idle timeout cuts
 * it. After `intervalMs` of silence, once `armed()` says waiting is no longer admission, the SSE
 * headers go out (200, text/event-stream) with a `: keep-alive` comment, and another comment after
 * each further `intervalMs` of silence. SSE clients ignore comment lines. Until it is armed nothing
 * is written, so admission failures (429 queue_full, 503 no worker) stay real HTTP statuses; once
 * headers are out, a later failure ends the stream with the usual last error event.
 *
 * One mechanism for every SSE writer (chat, completions, transcripts, speech, images): it sees the
 * writer's output by wrapping the response's `write`, as compression middleware does, so a writer
 * only starts it and needs no calls of its own.
 */
import type { Response } from 'express';
import { requestContextOf } from './request-context';

/** While not yet armed, how often it looks again. */
const ARM_CHECK_MS = 100;

export const KEEP_ALIVE_COMMENT = ': keep-alive\n\n';

export interface SseKeepAliveOptions {
  /** Silence before a comment (SSE_KEEPALIVE_MS); 0 turns keep-alives off. */
  intervalMs: number;
  /** The response's headers, sent with the first comment when the writer has not sent them yet. */
  headers: Readonly<Record<string, string>>;
  /** True once a comment may go out; by default once the request's job is queued (RequestContext.queuedAt). */
  armed?: () => boolean;
}

export class SseKeepAlive {
  private lastWrite = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly originalWrite: Response['write'];
  private sent = 0;

  private constructor(
    private readonly res: Response,
    private readonly o: Required<SseKeepAliveOptions>,
  ) {
    this.originalWrite = res.write;
    const note = (): void => {
      this.lastWrite = Date.now();
    };
    const original = this.originalWrite;
    res.write = function (this: Response, ...args: Parameters<Response['write']>): boolean {
      note();
      return (original as (...a: unknown[]) => boolean).apply(this, args);
    } as Response['write'];
    const stop = (): void => this.stop();
    res.once('finish', stop);
    res.once('close', stop);
    this.schedule(o.intervalMs);
  }

  /** Starts keep-alives on an SSE response; stops by itself when the response ends or closes. */
  static start(res: Response, options: SseKeepAliveOptions): SseKeepAlive | undefined {
    if (options.intervalMs <= 0) return undefined;
    const ctx = requestContextOf(res.req);
    const armed = options.armed ?? ((): boolean => ctx?.queuedAt !== undefined);
    return new SseKeepAlive(res, { ...options, armed });
  }

  /** Comments written so far. */
  get comments(): number {
    return this.sent;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), ms);
    // A pending keep-alive never holds the process open on shutdown.
    this.timer.unref();
  }

  private tick(): void {
    const res = this.res;
    if (res.writableEnded || res.destroyed) return this.stop();
    const silent = Date.now() - this.lastWrite;
    if (silent < this.o.intervalMs) return this.schedule(this.o.intervalMs - silent);
    if (!this.o.armed()) return this.schedule(Math.min(ARM_CHECK_MS, this.o.intervalMs));
    if (!res.headersSent) {
      res.writeHead(200, this.o.headers);
      res.flushHeaders();
    }
    this.sent++;
    res.write(KEEP_ALIVE_COMMENT);
    this.schedule(this.o.intervalMs);
  }
}
