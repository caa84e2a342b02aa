/**
 * Error events a worker sends: a Rejection's, and those for failures that are not the client's, with
 * the same codes and words whichever worker (llm, onnx, upstream, a runner's bridge) reports them.
 */
import type { ErrorEvent, UnsequencedEvent } from '@switchyard/contracts';
import type { Rejection } from './rejection';

export type UnsequencedError = UnsequencedEvent<ErrorEvent>;

/** A refused request as the job's error event. */
export function rejectionEvent(r: Rejection): UnsequencedError {
  return {
    type: 'error',
    status: r.status,
    errorType: r.type,
    message: r.message,
    code: r.code,
    param: r.param,
    ...(r.retryAfterSeconds !== undefined ? { retryAfterSeconds: r.retryAfterSeconds } : {}),
  };
}

export function serverErrorEvent(status: number, code: string, message: string): UnsequencedError {
  return { type: 'error', status, errorType: 'server_error', message, code, param: null };
}

/** A job that had streamed when its worker died: never replayed, the client gets a 502. */
export function workerLostEvent(serving = 'worker'): UnsequencedError {
  return serverErrorEvent(502, 'worker_lost', `The ${serving} serving this request stopped responding.`);
}

/** A job cut by an unload past its drain window: retryable, so a 503. */
export function modelUnloadedEvent(model: string): UnsequencedError {
  return serverErrorEvent(503, 'model_unloaded', `The model '${model}' was unloaded while this request was running. Retry the request.`);
}
