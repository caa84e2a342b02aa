/**
 * The access log: one JSON line per HTTP request, written by pino-http when the response finishes
 * (a stream when it ends, an aborted request when its connection closes), with what the request's
 * context learnt: method, path, status, duration, time to first token, tokens, model, key name and
 * error code. It never logs bodies, headers (the Authorization header and cookies are redacted
 * should a header ever reach a line) or the query string.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { pinoHttp, type Options } from 'pino-http';
import { rootLogger } from '@switchyard/runtime';
import { requestContextOf } from '../core/request-context';

/** Probes and scrapes come every few seconds: debug lines, so they do not bury the requests. */
const QUIET_PATHS = /^\/(health|healthz|livez|readyz|metrics)(\/|$)/;
/** A path is the client's to choose: long ones are cut. */
const MAX_PATH = 256;

function pathOf(req: IncomingMessage): string {
  const url = (req as Request).originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}…` : path;
}

const ms = (from: number, to: number): number => Math.round((to - from) * 10) / 10;

/** True when the client went away before the response ended (pino-http logs on `close` then). */
function aborted(req: IncomingMessage, res: ServerResponse): boolean {
  return req.readableAborted || !res.writableEnded;
}

/** The access line's fields, read from the request context at the end of the response. */
export function accessFields(req: IncomingMessage, res: ServerResponse, err?: Error): Record<string, unknown> {
  const ctx = requestContextOf(req as Request);
  const now = performance.now();
  return {
    c: 'http',
    requestId: ctx?.id ?? (req as { id?: unknown }).id,
    method: req.method,
    path: pathOf(req),
    status: res.statusCode,
    durationMs: ctx ? ms(ctx.startedAt, now) : undefined,
    ttftMs: ctx?.firstTokenAt !== undefined ? ms(ctx.startedAt, ctx.firstTokenAt) : undefined,
    model: ctx?.model,
    keyName: ctx?.keyName,
    promptTokens: ctx?.promptTokens,
    completionTokens: ctx?.completionTokens,
    errorCode: ctx?.errorCode,
    aborted: aborted(req, res) || undefined,
    // pino-http makes up an Error for a 5xx; only a real one (the socket failing) is worth its text.
    error: err && !err.message.startsWith('failed with status code') ? err.message : undefined,
  };
}

/**
 * A 503 says "not now, retry" (Redis unreachable, no worker serving the model yet, draining): the
 * service is doing what it should, so it is a warning; any other 5xx, or a socket error, is an error.
 */
export function accessLogLevel(path: string, status: number, err?: Error): 'debug' | 'info' | 'warn' | 'error' {
  if (QUIET_PATHS.test(path)) return 'debug';
  if (status === 503) return 'warn';
  return err || status >= 500 ? 'error' : 'info';
}

export function accessLogOptions(): Options {
  return {
    logger: rootLogger(),
    // The request context (the first middleware) chose the id: the client's sane one or a fresh one.
    genReqId: (req) => requestContextOf(req as Request)?.id ?? '',
    // The line is built from the context alone, never from the request or response objects.
    customSuccessObject: (req, res) => accessFields(req, res),
    customErrorObject: (req, res, err) => accessFields(req, res, err),
    customSuccessMessage: (req, res) => (aborted(req, res) ? 'request aborted' : 'request completed'),
    customErrorMessage: () => 'request failed',
    customLogLevel: (req, res, err) => accessLogLevel(pathOf(req), res.statusCode, err),
    // Lines logged through req.log (nestjs-pino's PinoLogger) say which request, not all of it; the
    // requestId comes from the log context (see logging.module.ts), so it is never bound twice.
    serializers: { req: (r: { method?: string; url?: string }) => ({ method: r.method, url: r.url?.split('?')[0] }) },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'res.headers["set-cookie"]'], censor: '[redacted]' },
    quietResLogger: true,
  };
}

/** Express middleware, right after the request context (so body-parser refusals are logged too). */
export function accessLog(): RequestHandler {
  return pinoHttp(accessLogOptions()) as unknown as RequestHandler;
}
