/**
 * Cancel requests for running jobs. One PSUBSCRIBE per worker covers every job, so taking a job
 * costs no subscribe round trip. A cancel that arrives before its job is registered is remembered
 * briefly, so the job is aborted as soon as it starts.
 */
import type Redis from 'ioredis';
import { JOB_CANCEL_PATTERN, jobIdFromCancelChannel } from '@switchyard/contracts';

const EARLY_CANCEL_TTL_MS = 60_000;

export class CancelListener {
  private readonly running = new Map<string, AbortController>();
  private readonly early = new Map<string, number>();

  constructor(private readonly subscriber: Redis) {
    subscriber.on('pmessage', (_pattern: string, channel: string) => {
      const jobId = jobIdFromCancelChannel(channel);
      if (jobId !== undefined) this.cancel(jobId);
    });
  }

  start(): Promise<unknown> {
    return this.subscriber.psubscribe(JOB_CANCEL_PATTERN);
  }

  register(jobId: string, controller: AbortController): void {
    this.running.set(jobId, controller);
    if (this.early.delete(jobId)) controller.abort();
  }

  unregister(jobId: string): void {
    this.running.delete(jobId);
  }

  private cancel(jobId: string): void {
    const controller = this.running.get(jobId);
    if (controller) {
      controller.abort();
      return;
    }
    const now = Date.now();
    for (const [id, at] of this.early) if (now - at > EARLY_CANCEL_TTL_MS) this.early.delete(id);
    this.early.set(jobId, now);
  }
}
