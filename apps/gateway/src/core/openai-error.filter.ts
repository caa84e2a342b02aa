/**
 * Turns every exception into OpenAI's error object with the right status. Internals never reach
 * the client; once a response has started (SSE), the error becomes a final event instead.
 */
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Logger } from '@switchyard/runtime';
import { OpenAIError, type OpenAIErrorBody } from './openai-error';
import { requestContextOf } from './request-context';

const log = new Logger('gateway.errors');

export function toOpenAIError(err: unknown, req?: Request): OpenAIError {
  if (err instanceof OpenAIError) return err;
  if (err instanceof HttpException) {
    const status = err.getStatus();
    if (status === 404 && req) {
      return new OpenAIError(404, `Unknown request URL: ${req.method} ${req.path}.`, 'invalid_request_error', 'unknown_url');
    }
    const message = err.message || 'Request failed.';
    if (status < 500) return new OpenAIError(status, message, 'invalid_request_error');
  }
  log.error('unexpected error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return OpenAIError.internal();
}

/** Writes an OpenAI error to an Express response, as JSON or as a last SSE event. */
export function sendOpenAIError(res: Response, err: OpenAIError): void {
  const ctx = requestContextOf(res.req);
  if (ctx) ctx.errorCode = err.body.error.code ?? err.body.error.type;
  if (res.headersSent) {
    if (!res.writableEnded) {
      res.write(`data: ${JSON.stringify(err.body satisfies OpenAIErrorBody)}\n\n`);
      res.end();
    }
    return;
  }
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.status(err.getStatus()).json(err.body);
}

@Catch()
export class OpenAIErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    sendOpenAIError(ctx.getResponse<Response>(), toOpenAIError(exception, req));
  }
}
