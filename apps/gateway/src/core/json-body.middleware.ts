/**
 * How request bodies enter the gateway, before Nest's pipeline: only JSON media types are parsed
 * (415 for anything else), parse failures and oversize bodies get OpenAI's error shape, and the
 * parsed body is held to the shape bounds of body-limits.ts.
 */
import { json, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { checkBodyLimits } from './body-limits';
import { OpenAIError } from './openai-error';
import { sendOpenAIError } from './openai-error.filter';

const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * Refuses a body that is not JSON. A browser sends text/plain, application/x-www-form-urlencoded and
 * multipart/form-data cross-site without asking first (no CORS preflight), so a JSON route that took
 * them (text/plain used to be parsed as JSON) could be driven from any web page on an open gateway.
 * Upload routes (audio, image edits) take multipart/form-data on their own paths only, and answer
 * other bodies there themselves (OpenAI's 400).
 */
export function requireJsonBody(uploadPaths: readonly string[] = []): RequestHandler {
  const uploads = new Set(uploadPaths.map(routeKey));
  return (req, res, next) => {
    const length = req.headers['content-length'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (!hasBody || req.is(JSON_TYPES) || uploads.has(routeKey(req.path))) {
      next();
      return;
    }
    refuseBody(req, res);
  };
}

/** As Express routes match by default: case-insensitive, one trailing slash ignored. */
function routeKey(path: string): string {
  return path.toLowerCase().replace(/(.)\/$/, '$1');
}

function refuseBody(req: Request, res: Response): void {
  const type = req.headers['content-type'];
  sendOpenAIError(
    res,
    new OpenAIError(
      415,
      `${type ? `Unsupported Content-Type '${type.slice(0, 100)}'` : 'Missing Content-Type'}: send the body as JSON with 'Content-Type: application/json'.`,
      'invalid_request_error',
      'unsupported_media_type',
    ),
  );
}

/** Body-parser failures happen before Nest's pipeline, so they get OpenAI's shape here. */
export function bodyErrors(err: { type?: string; status?: number; message?: string }, _req: Request, res: Response, next: NextFunction): void {
  if (err.type === 'entity.too.large') {
    sendOpenAIError(res, new OpenAIError(413, 'Request body is too large.', 'invalid_request_error', 'request_too_large'));
  } else if (err.type === 'entity.parse.failed') {
    sendOpenAIError(
      res,
      OpenAIError.badRequest('We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.', null, 'invalid_json'),
    );
  } else if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    sendOpenAIError(res, OpenAIError.badRequest(err.message ?? 'Bad request.'));
  } else {
    next(err);
  }
}

export function checkParsedBody(req: Request, res: Response, next: NextFunction): void {
  const err = checkBodyLimits(req.body);
  if (err) sendOpenAIError(res, err);
  else next();
}

/** The middleware chain, in order; `uploadPaths` are the routes that parse multipart bodies themselves. */
export function jsonBody(limitBytes: number, uploadPaths: readonly string[] = []): Array<RequestHandler | typeof bodyErrors> {
  return [requireJsonBody(uploadPaths), json({ limit: limitBytes, type: JSON_TYPES }), bodyErrors, checkParsedBody];
}
