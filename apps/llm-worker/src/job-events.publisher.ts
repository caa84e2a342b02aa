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
} from '@switchyard/contracts';

type Unsequenced<E> = E extends JobEvent ? Omit<E, 'seq'> : never;

export class JobEventsPublisher {
  private seq = 0;
  private readonly channel: string;
  private readonly stream: string;
  private failed: Error | undefined;

  constructor(
    private readonly redis: Redis,
    jobId: string,
  ) {
    this.channel = jobEventsChannel(jobId);
    this.stream = jobEventsStream(jobId);
  }

  /** Sends an event; deltas are not awaited (ordering holds on one connection), terminal ones are. */
  emit(event: Unsequenced<JobEvent>): Promise<void> {
    const full = { ...event, seq: this.seq++ } as JobEvent;
    const payload = JSON.stringify(full);
    const pipe = this.redis.pipeline();
    pipe.publish(this.channel, payload);
    pipe.xadd(this.stream, 'MAXLEN', '~', JOB_EVENTS_MAXLEN, '*', 'e', payload);
    if (full.seq === 0 || isTerminalEvent(full)) pipe.expire(this.stream, JOB_EVENTS_TTL_SECONDS);
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
