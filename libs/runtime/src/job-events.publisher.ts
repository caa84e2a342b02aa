/**
 * Publishes one job's events: PUBLISH for live delivery plus XADD to the job's capped, expiring
 * replay stream, in one pipeline per event so order is kept and a token costs one round trip.
 */
import type Redis from 'ioredis';
import {
  JOB_EVENTS_MAXLEN,
  JOB_EVENTS_TTL_SECONDS,
  isTerminalEvent,
  jobEventsChannel,
  jobEventsStream,
  type JobEvent,
  type UnsequencedEvent,
} from '@switchyard/contracts';

export class JobEventsPublisher {
  private readonly channel: string;
  private readonly stream: string;
  private failed: Error | undefined;

  private constructor(
    private readonly redis: Redis,
    jobId: string,
    private seq: number,
    /** A previous attempt on a worker that died had already sent text to the client. */
    readonly alreadyStreamed: boolean,
  ) {
    this.channel = jobEventsChannel(jobId);
    this.stream = jobEventsStream(jobId);
  }

  /**
   * A retried job (its worker died) continues the sequence numbers of the first attempt, so the
   * gateway still waiting on it sees no gap, and learns whether text was already streamed.
   */
  static async forJob(redis: Redis, jobId: string, retried: boolean): Promise<JobEventsPublisher> {
    if (!retried) return new JobEventsPublisher(redis, jobId, 0, false);
    const entries = await redis.xrange(jobEventsStream(jobId), '-', '+');
    let next = 0;
    let streamed = false;
    for (const [, fields] of entries) {
      const event = JSON.parse(fields[1]) as JobEvent;
      next = Math.max(next, event.seq + 1);
      if (event.type === 'delta') streamed = true;
    }
    return new JobEventsPublisher(redis, jobId, next, streamed);
  }

  /** Sends an event; deltas are not awaited (ordering holds on one connection), terminal ones are. */
  emit(event: UnsequencedEvent): Promise<void> {
    const full = { ...event, seq: this.seq++ } as JobEvent;
    const payload = JSON.stringify(full);
    const pipe = this.redis.pipeline();
    pipe.publish(this.channel, payload);
    pipe.xadd(this.stream, 'MAXLEN', '~', JOB_EVENTS_MAXLEN, '*', 'e', payload);
    if (full.seq === 0 || full.type === 'start' || isTerminalEvent(full)) pipe.expire(this.stream, JOB_EVENTS_TTL_SECONDS);
    const done = pipe.exec().then(
      () => undefined,
      (err: Error) => {
        this.failed ??= err;
      },
    );
    return isTerminalEvent(full) ? done.then(() => this.throwIfFailed()) : done;
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failed;
  }
}
