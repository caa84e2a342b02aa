/**
 * How an upstream call fails: one error class already shaped as the OpenAI error the client gets,
 * and the mapping from what went wrong (no API key, connection refused, timeouts, an HTTP error
 * status, an error chunk mid-stream, a broken body) to status, type, code and whether another
 * deployment may be tried. Connection-level failures, 429 and 5xx are retryable; a request the
 * upstream rejects (400, 413, 422) is not, since every deployment would reject it too.
 */
import type { JobErrorType, UpstreamDeployment } from '@switchyard/contracts';
import { Rejection } from '@switchyard/runtime';

/**
 * A failed call, already shaped as the OpenAI error the client should get: a Rejection like every
 * other refusal, so a host reports it with `rejectionEvent`, plus whether another deployment may
 * be tried.
 */
export class UpstreamFailure extends Rejection {
  constructor(
    status: number,
    errorType: JobErrorType,
    code: string,
    message: string,
    /** Another deployment may succeed (only used while nothing was streamed). */
    readonly retryable: boolean,
    param: string | null = null,
    /** The upstream's Retry-After, passed on to the client. */
    retryAfterSeconds?: number,
  ) {
    super({ status, type: errorType, code, message, param, retryAfterSeconds });
  }

  /** OpenAI's error `type` (the Rejection's `type`). */
  get errorType(): JobErrorType {
    return this.type;
  }
}

/** Retry-After as seconds (a number of seconds or an HTTP date), when present and sane. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const secs = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Math.ceil((Date.parse(value) - now) / 1000);
  return Number.isFinite(secs) && secs >= 0 && secs <= 86_400 ? secs : undefined;
}

function describeError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** Retryable: another deployment may have its key set. */
export function missingApiKey(label: string, envName: string): UpstreamFailure {
  return new UpstreamFailure(500, 'server_error', 'upstream_misconfigured', `The API key for '${label}' is not configured (environment variable ${envName} is empty).`, true);
}

/** fetch() itself failed: nothing answered, or not within the connect timeout. */
export function connectionFailure(label: string, err: unknown, timedOut: boolean, dep: UpstreamDeployment): UpstreamFailure {
  if (timedOut) {
    return new UpstreamFailure(504, 'server_error', 'upstream_timeout', `The upstream server for '${label}' did not answer within ${dep.connectTimeoutMs} ms.`, true);
  }
  return new UpstreamFailure(502, 'server_error', 'upstream_unreachable', `The upstream server for '${label}' could not be reached (${describeError(err)}).`, true);
}

/** Reading the body failed after the headers came: it went silent, or the connection broke. */
export function responseFailure(label: string, err: unknown, idleTimedOut: boolean, dep: UpstreamDeployment): UpstreamFailure {
  if (idleTimedOut) {
    return new UpstreamFailure(504, 'server_error', 'upstream_timeout', `The upstream server for '${label}' sent nothing for ${dep.idleTimeoutMs} ms.`, true);
  }
  return new UpstreamFailure(502, 'server_error', 'upstream_disconnected', `The upstream server for '${label}' broke off its response: ${describeError(err)}.`, true);
}

/** OpenAI-shaped (or any) error body → message and param, without trusting its shape. */
function upstreamMessage(text: string): { message: string; param: string | null; code: string | null } {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; param?: unknown; code?: unknown } | string; message?: unknown; detail?: unknown };
    const e = parsed.error;
    if (typeof e === 'string') return { message: e, param: null, code: null };
    if (e && typeof e.message === 'string') {
      return { message: e.message, param: typeof e.param === 'string' ? e.param : null, code: typeof e.code === 'string' ? e.code : null };
    }
    if (typeof parsed.message === 'string') return { message: parsed.message, param: null, code: null };
    if (typeof parsed.detail === 'string') return { message: parsed.detail, param: null, code: null };
  } catch {
    // not JSON
  }
  return { message: text.slice(0, 500).trim() || 'no details', param: null, code: null };
}

/** A response with an error status, read to the end for its message. */
export async function httpFailure(label: string, res: Response): Promise<UpstreamFailure> {
  const { message, param, code } = upstreamMessage(await res.text().catch(() => ''));
  const s = res.status;
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
  if (s === 429) {
    return new UpstreamFailure(429, 'rate_limit_error', code ?? 'rate_limit_exceeded', `The upstream server for '${label}' is rate limiting requests: ${message}`, true, null, retryAfter);
  }
  if (s >= 500) {
    return new UpstreamFailure(502, 'server_error', 'upstream_error', `The upstream server for '${label}' failed with HTTP ${s}: ${message}`, true, null, retryAfter);
  }
  if (s === 401 || s === 403 || s === 404) {
    // The gateway's own credentials or model id are wrong: the client cannot fix that.
    return new UpstreamFailure(502, 'server_error', 'upstream_error', `The upstream server for '${label}' refused the request with HTTP ${s}: ${message}`, true);
  }
  // 400, 413, 422...: the request itself (tools, response_format, content) is what the upstream rejects.
  return new UpstreamFailure(s === 413 ? 413 : 400, 'invalid_request_error', code ?? 'upstream_rejected', message, false, param);
}

/** An `{"error": ...}` chunk in the middle of a stream. */
export function errorChunkFailure(label: string, e: unknown): UpstreamFailure {
  const err = (typeof e === 'object' && e !== null ? e : { message: String(e) }) as Record<string, unknown>;
  const message = typeof err.message === 'string' ? err.message : 'unknown error';
  return new UpstreamFailure(502, 'server_error', 'upstream_error', `The upstream server for '${label}' reported an error mid-response: ${message}`, true);
}

export function badChunkFailure(label: string): UpstreamFailure {
  return new UpstreamFailure(502, 'server_error', 'upstream_bad_response', `The upstream server for '${label}' sent a chunk that is not JSON.`, true);
}
