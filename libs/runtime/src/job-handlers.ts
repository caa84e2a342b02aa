/**
 * The boot-time half of the backend table: a worker states the job kinds it has handlers for, and
 * refuses to start when the table gives its backend a kind it cannot run (a job of that kind would
 * otherwise sit in the queue, or reach the wrong handler, at the first request).
 */
import type { Job } from 'bullmq';
import type Redis from 'ioredis';
import { BACKENDS, type Backend } from '@switchyard/contracts';
import { JobEventsPublisher } from './job-events.publisher';

export class MissingJobHandlerError extends Error {}

/** Throws when a kind the table lists for `backend` is not in `handledKinds`. */
export function assertHandlesKinds(backend: Backend, handledKinds: Iterable<string>): void {
  const handled = new Set(handledKinds);
  const missing = BACKENDS[backend].jobKinds.filter((k) => !handled.has(k));
  if (missing.length > 0) {
    throw new MissingJobHandlerError(`The ${backend} worker has no handler for the job kind(s) ${missing.map((k) => `'${k}'`).join(', ')} that the backend table gives it.`);
  }
}

/**
 * Answers a job whose kind this worker has no handler for (a newer gateway's, or one routed to the
 * wrong queue) with a 400, so its client is not left waiting for an answer that never comes.
 */
export async function rejectUnknownKind(publisher: Redis, job: Job<{ kind: string }>, model: string): Promise<void> {
  const events = await JobEventsPublisher.forJob(publisher, job.id!, false);
  await events.emit({
    type: 'error',
    status: 400,
    errorType: 'invalid_request_error',
    message: `The model '${model}' does not serve '${job.data.kind}' requests.`,
    code: 'model_not_supported',
    param: 'model',
  });
}
