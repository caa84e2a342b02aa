/**
 * One type for a request (or command) a worker refuses: the OpenAI error fields the client gets,
 * named rather than positional, so every refusal carries the same fields whoever throws it. A job
 * handler throws it; `rejectionEvent` turns it into the job's error event.
 */
import type { JobErrorType } from '@switchyard/contracts';

export interface RejectionInit {
  message: string;
  code: string;
  /** The request field at fault, as OpenAI's `param`. */
  param?: string | null;
  /** HTTP status the gateway answers with. */
  status: number;
  /** OpenAI's error `type`; by default from the status (429 rate limit, other 4xx invalid request, 5xx server). */
  type?: JobErrorType;
  /** Sent to the client as Retry-After. */
  retryAfterSeconds?: number;
}

export class Rejection extends Error {
  readonly code: string;
  readonly param: string | null;
  readonly status: number;
  readonly type: JobErrorType;
  readonly retryAfterSeconds: number | undefined;

  constructor(init: RejectionInit) {
    super(init.message);
    this.code = init.code;
    this.param = init.param ?? null;
    this.status = init.status;
    this.type = init.type ?? errorTypeFor(init.status);
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  /** The client's 400, in OpenAIError.badRequest's order. */
  static badRequest(message: string, param: string | null, code: string): Rejection {
    return new Rejection({ message, param, code, status: 400 });
  }
}

function errorTypeFor(status: number): JobErrorType {
  if (status === 429) return 'rate_limit_error';
  return status < 500 ? 'invalid_request_error' : 'server_error';
}
