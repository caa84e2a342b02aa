/**
 * What the gateway learns about one HTTP request while serving it: its id (`x-request-id`, the
 * client's own when it sent a sane one), the model, the key's name, when the first token came and
 * the tokens used, and the error code when it failed. The access log and the metrics read it when
 * the response finishes; the inference path and the guard fill it in. It lives in an
 * AsyncLocalStorage so the services deep in the call chain need no request object, and on the
 * request itself (`requestContextOf(req)`) for code that has the request but not the context
 * (a response's `finish` event runs outside it).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export interface RequestContext {
  /** Sent back as `x-request-id`, stamped on every job of the request and on every log line about it. */
  readonly id: string;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /** Model name as configured (aliases resolved), once the request resolved one. */
  model?: string;
  /** Name of the API key that authenticated the request (never the key itself). */
  keyName?: string;
  /** `performance.now()` at the first generated token or streamed piece. */
  firstTokenAt?: number;
  promptTokens?: number;
  completionTokens?: number;
  /** OpenAI error `code` of a failed request (`queue_full`, `no_worker_available`, ...). */
  errorCode?: string;
  /** `performance.now()` when its first job went into a queue: admission passed (SSE keep-alives may start). */
  queuedAt?: number;
}

const storage = new AsyncLocalStorage<RequestContext>();
const ON_REQUEST = Symbol('switchyard.requestContext');

/** A client's id is kept when it is a short run of safe characters; anything else gets a fresh one. */
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The context of the request being served, or undefined outside one (workers, timers, start-up). */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

export function requestContextOf(req: Request): RequestContext | undefined {
  return (req as Request & { [ON_REQUEST]?: RequestContext })[ON_REQUEST];
}

/** Express middleware, the first of all: opens the context, sets `x-request-id` on the response, runs the rest inside it. */
export function requestContext(req: Request, res: Response, next: NextFunction): void {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
  const ctx: RequestContext = { id, startedAt: performance.now() };
  (req as Request & { [ON_REQUEST]?: RequestContext })[ON_REQUEST] = ctx;
  res.setHeader('x-request-id', id);
  storage.run(ctx, next);
}

/**
 * Express middleware after the body parsers: a parser calls `next` from a stream event, which runs
 * outside the context, so the rest of the chain enters it again from the request.
 */
export function reenterRequestContext(req: Request, _res: Response, next: NextFunction): void {
  const ctx = requestContextOf(req);
  if (ctx && storage.getStore() !== ctx) storage.run(ctx, next);
  else next();
}

/** Records the first token's time once (later calls keep the first). */
export function markFirstToken(ctx: RequestContext | undefined = currentRequest()): void {
  if (ctx && ctx.firstTokenAt === undefined) ctx.firstTokenAt = performance.now();
}

/** Adds a job's usage to the request's (several choices or prompts add up). */
export function addUsage(promptTokens: number, completionTokens: number, ctx: RequestContext | undefined = currentRequest()): void {
  if (!ctx) return;
  ctx.promptTokens = (ctx.promptTokens ?? 0) + promptTokens;
  ctx.completionTokens = (ctx.completionTokens ?? 0) + completionTokens;
}
