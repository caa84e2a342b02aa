/**
 * The admin load as an SSE stream (`Accept: text/event-stream` or `?stream=true`): one `data:` event
 * `{model, worker, state: "loading", progress, stage}` per load step the worker reports (at most
 * every 250 ms, progress never going back), then `{..., state: "ready", progress: 1, load_ms}`, then
 * the end. Like a chat stream, a failure before the first event is a plain HTTP error; after it, a
 * last OpenAI error event.
 */
import type { Request, Response } from 'express';
import type { LoadArgs, ModelDescriptor } from '@switchyard/contracts';
import { SSE_HEADERS } from '../chat/response-writer';
import type { ModelControlService } from '../core/model-control.service';
import { sendOpenAIError, toOpenAIError } from '../core/openai-error.filter';
import { SseKeepAlive } from '../core/sse-keepalive';

/** Both ways of asking for the stream: the Accept header, or `?stream=true` for clients that cannot set it. */
export function wantsLoadStream(req: Request): boolean {
  const stream = req.query.stream;
  if (stream === 'true' || stream === '1') return true;
  return (req.headers.accept ?? '').split(',').some((type) => type.trim().split(';')[0].trim() === 'text/event-stream');
}

export async function streamLoad(
  res: Response,
  control: ModelControlService,
  model: ModelDescriptor,
  options: { worker?: string; args?: LoadArgs; keepAliveMs: number },
): Promise<void> {
  const send = (event: object): void => {
    if (res.writableEnded || res.destroyed) return;
    if (!res.headersSent) res.writeHead(200, SSE_HEADERS);
    res.write(`data: ${JSON.stringify(event)}\n\n`);
  };
  // A load step can take long (a large context on a GPU); a proxy's idle timeout must not cut the
  // stream once it is open.
  SseKeepAlive.start(res, { intervalMs: options.keepAliveMs, headers: SSE_HEADERS, armed: () => res.headersSent });
  let progress = 0;
  try {
    const result = await control.load(model, {
      worker: options.worker,
      args: options.args,
      onProgress: (step) => {
        if (step.state !== 'loading') return;
        progress = Math.max(progress, step.progress ?? 0);
        send({ model: step.model, worker: step.worker, state: 'loading', progress, ...(step.stage !== undefined ? { stage: step.stage } : {}) });
      },
    });
    send({ model: result.model, worker: result.worker, state: 'ready', progress: 1, load_ms: result.ms });
    res.end();
  } catch (err) {
    if (!res.headersSent) throw err;
    sendOpenAIError(res, toOpenAIError(err));
  }
}
